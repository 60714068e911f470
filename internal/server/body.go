package server

import (
	"bufio"
	"errors"
	"io"
	"net/http"
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
		b.cr = &chunkedReader{br: b.br}
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
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return errors.New("trailer line not ended by CRLF")
		}
		s := string(line[:len(line)-2])
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

// chunkedReader reads a chunked body (RFC 9112 §7.1) with the grammar
// checkChunks holds the first bytes to: parseChunkLine for every size
// line and CRLF after every chunk's data. httputil's reader accepts a
// size line with trailing whitespace or a bare LF and refuses whitespace
// before ";", which RFC 9112 allows. It stops after the last chunk; the
// trailer section is readTrailer's.
type chunkedReader struct {
	br   *bufio.Reader
	n    int64 // data bytes left in the current chunk
	crlf bool  // the CRLF after a chunk's data is due
}

var (
	errChunkLine = errors.New("malformed chunk size line")
	errChunkEnd  = errors.New("chunk data not followed by CRLF")
)

func (cr *chunkedReader) Read(p []byte) (int, error) {
	for {
		if cr.n > 0 {
			if int64(len(p)) > cr.n {
				p = p[:cr.n]
			}
			n, err := cr.br.Read(p)
			cr.n -= int64(n)
			cr.crlf = cr.n == 0
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		if cr.crlf {
			end, err := cr.br.Peek(2)
			if err != nil {
				return 0, unexpectedEOF(err)
			}
			if end[0] != '\r' || end[1] != '\n' {
				return 0, errChunkEnd
			}
			cr.br.Discard(2)
			cr.crlf = false
		}
		line, err := cr.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return 0, errChunkLine // longer than the read buffer
		}
		if err != nil {
			return 0, unexpectedEOF(err)
		}
		size, ok := parseChunkLine(line)
		if !ok {
			return 0, errChunkLine
		}
		if size == 0 {
			return 0, io.EOF
		}
		cr.n = size
	}
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
