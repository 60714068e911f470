package server

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"

	"sluice/internal/wire"
)

// body is a request body read from the client connection: Content-Length
// or chunked (with trailers). On the first Read of a request that asked for
// "Expect: 100-continue" it sends the 100 Continue. Reads happen on one
// goroutine at a time (the handler's, or the transport's body writer);
// the server reads it again only after the handler returned.
type body struct {
	c       *conn
	br      *bufio.Reader
	remain  int64 // Content-Length bytes still to read
	chunked bool
	cr      io.Reader
	req     *http.Request
	resp    *response // for 100 Continue; nil when none is due
	err     error     // sticky: io.EOF or the failure
	n       int64     // bytes read, for discarding limits
	max     int64     // bound on a chunked body (Options.MaxBodyBytes); 0: none
}

var errBodyAfterHandler = errors.New("request body read after the handler returned")

// ErrBodyTooLarge is returned by a request body's Read when a chunked body
// grows past Options.MaxBodyBytes. (A body whose Content-Length is over
// the bound is refused with 413 before the handler runs.) A handler that
// has not yet answered should answer 413 Content Too Large; the server
// closes the connection after the response either way.
var ErrBodyTooLarge = errors.New("request body too large")

func newBody(c *conn, r *http.Request, resp *response) *body {
	b := &body{c: c, br: c.br, req: r, remain: r.ContentLength, max: c.srv.maxBodyBytes}
	if r.ContentLength < 0 {
		b.chunked = true
	}
	if resp != nil && r.ProtoMinor == 1 && wire.HasToken(r.Header["Expect"], "100-continue") {
		b.resp = resp
	}
	return b
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.resp != nil {
		b.resp.sendContinue()
		b.resp = nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	b.c.armBodyDeadline()
	if !b.chunked {
		if int64(len(p)) > b.remain {
			p = p[:b.remain]
		}
		n, err := b.br.Read(p)
		b.remain -= int64(n)
		b.n += int64(n)
		if b.remain == 0 {
			b.err = io.EOF
			return n, io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			b.err = err
		}
		return n, err
	}
	if b.cr == nil {
		b.cr = httputil.NewChunkedReader(b.br)
	}
	n, err := b.cr.Read(p)
	b.n += int64(n)
	if b.max > 0 && b.n > b.max {
		// Hand over only what fits; the bytes read before this call
		// were within the bound, so n covers the excess.
		n -= int(b.n - b.max)
		b.n = b.max
		b.err = ErrBodyTooLarge
		return n, b.err
	}
	if err == io.EOF {
		if err := b.readTrailer(); err != nil {
			b.err = err
			return n, err
		}
		b.err = io.EOF
		return n, io.EOF
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

// Close does not close the connection; the server decides, after the
// handler returned, whether the rest of the body can be discarded.
func (b *body) Close() error { return nil }

// done reports whether the body was read to its end.
func (b *body) done() bool { return b.err == io.EOF }

// discard reads what is left of the body, up to max bytes, so the
// connection can serve the next request. It reports whether it succeeded.
func (b *body) discard(max int64) bool {
	if b.err != nil {
		return b.err == io.EOF
	}
	b.resp = nil // never send 100 Continue just to throw the body away
	if !b.chunked && b.remain > max {
		return false
	}
	var buf [4096]byte
	var total int64
	for total <= max {
		n, err := b.Read(buf[:])
		total += int64(n)
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}

// readTrailer reads the trailer section after the last chunk
// (RFC 9112 §7.1.2) into the request's Trailer.
func (b *body) readTrailer() error {
	total := 0
	for {
		line, err := b.br.ReadSlice('\n')
		if err != nil {
			return errors.New("malformed chunked trailer")
		}
		total += len(line)
		if total > 64<<10 {
			return errors.New("chunked trailer too large")
		}
		s := strings.TrimRight(string(line), "\r\n")
		if s == "" {
			return nil
		}
		colon := strings.IndexByte(s, ':')
		if colon <= 0 {
			return errors.New("malformed trailer line")
		}
		name := s[:colon]
		if !wire.IsToken(name) {
			return errors.New("invalid trailer name")
		}
		value := wire.TrimOWS(s[colon+1:])
		if !wire.ValidValue(value) {
			return errors.New("invalid trailer value")
		}
		if b.req.Trailer == nil {
			b.req.Trailer = make(http.Header)
		}
		b.req.Trailer.Add(name, value)
	}
}
