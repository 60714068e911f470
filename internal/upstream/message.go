package upstream

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"time"

	"sluice/internal/copybuf"
	"sluice/internal/splice"
	"sluice/internal/wire"
)

// writeHead writes the request line and header. The framing headers
// (Content-Length, Transfer-Encoding, Trailer) and Host are written from the
// request's fields, never copied from req.Header.
func writeHead(bw *bufio.Writer, req *http.Request, hasBody bool) error {
	u := req.URL
	if _, ok := checkName(req.Method); !ok || req.Method == "" {
		return fmt.Errorf("invalid method %q", req.Method)
	}
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	path := u.EscapedPath()
	if u.Opaque != "" {
		path = u.Opaque
	}
	switch {
	case path != "":
		bw.WriteString(path)
	case req.Method == http.MethodOptions && u.RawQuery == "":
		// RFC 9112 §3.2.4: an absolute-form OPTIONS with an empty path
		// is forwarded as asterisk-form.
		bw.WriteByte('*')
	default:
		bw.WriteByte('/')
	}
	if u.RawQuery != "" || u.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(u.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	host := req.Host
	if host == "" {
		host = u.Host
	}
	if !validValue(host) {
		return fmt.Errorf("invalid host %q", host)
	}
	bw.WriteString(host)
	bw.WriteString("\r\n")
	for k, vv := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		if _, ok := checkName(k); !ok || k == "" {
			return fmt.Errorf("invalid header name %q", k)
		}
		for _, v := range vv {
			if !validValue(v) {
				return fmt.Errorf("invalid value for header %s", k)
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	var scratch [20]byte
	switch {
	case hasBody && req.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(scratch[:0], req.ContentLength, 10))
		bw.WriteString("\r\n")
	case hasBody:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		first := true
		for k := range req.Trailer {
			if _, ok := checkName(k); !ok || k == "" {
				return fmt.Errorf("invalid trailer name %q", k)
			}
			if forbiddenTrailer(k) {
				continue
			}
			if first {
				bw.WriteString("Trailer: ")
			} else {
				bw.WriteString(", ")
			}
			first = false
			bw.WriteString(k)
		}
		if !first {
			bw.WriteString("\r\n")
		}
	case req.ContentLength == 0 && methodWantsLength(req.Method):
		bw.WriteString("Content-Length: 0\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

func methodWantsLength(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch
}

// validValue reports whether v is safe to write as a field value: no CR, LF
// or NUL that would split or truncate the header.
func validValue(v string) bool {
	return strings.IndexByte(v, '\r') < 0 && strings.IndexByte(v, '\n') < 0 && strings.IndexByte(v, 0) < 0
}

// forbiddenTrailer reports whether a field (canonical name) must not be
// passed on in a trailer section: it frames or routes the message, belongs
// to one hop, or describes the content, all of which a recipient needs
// before the body (RFC 9110 §6.5.1). A client could otherwise slip a
// Proxy-Authorization or a second Content-Length past the proxy's header
// checks to an origin that merges trailers into the header.
func forbiddenTrailer(k string) bool {
	switch k {
	case "Content-Length", "Transfer-Encoding", "Trailer", "Host",
		"Connection", "Proxy-Connection", "Keep-Alive", "Te", "Upgrade",
		"Proxy-Authorization", "Proxy-Authenticate",
		"Content-Encoding", "Content-Type", "Content-Range":
		return true
	}
	return false
}

// RequestBodyError is a failure to read the request body from its source
// (for a proxy: the client), as opposed to a failure of the origin.
type RequestBodyError struct{ Err error }

func (e *RequestBodyError) Error() string { return "reading request body: " + e.Err.Error() }
func (e *RequestBodyError) Unwrap() error { return e.Err }

// writeBody streams req.Body: as declared by Content-Length, or chunked
// with trailers. Each piece read from the client is flushed at once so a
// slow, streaming upload reaches the origin as it arrives.
func writeBody(bw *bufio.Writer, req *http.Request) error {
	bp := copybuf.Get()
	defer copybuf.Put(bp)
	buf := *bp
	chunked := req.ContentLength <= 0
	var written int64
	var scratch [20]byte
	for {
		n, rerr := req.Body.Read(buf)
		if n > 0 {
			if chunked {
				bw.Write(strconv.AppendInt(scratch[:0], int64(n), 16))
				bw.WriteString("\r\n")
				bw.Write(buf[:n])
				bw.WriteString("\r\n")
			} else {
				if written+int64(n) > req.ContentLength {
					return errors.New("request body longer than its Content-Length")
				}
				bw.Write(buf[:n])
			}
			written += int64(n)
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return &RequestBodyError{Err: rerr}
		}
	}
	if !chunked {
		if written != req.ContentLength {
			return &RequestBodyError{Err: io.ErrUnexpectedEOF}
		}
		return nil
	}
	bw.WriteString("0\r\n")
	for k, vv := range req.Trailer {
		if forbiddenTrailer(k) {
			continue
		}
		for _, v := range vv {
			if !validValue(v) {
				return fmt.Errorf("invalid value for trailer %s", k)
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("\r\n")
	return bw.Flush()
}

// readHead reads one response status line and header block. The whole
// block becomes one string; names and values are substrings of it.
func readHead(pc *conn, req *http.Request) (*http.Response, error) {
	br := pc.br
	limit := pc.t.maxHeaderBytes()
	head := pc.head[:0]
	lineStart := 0
	for {
		frag, err := br.ReadSlice('\n')
		head = append(head, frag...)
		if len(head) > limit {
			return nil, fmt.Errorf("%w: response header larger than %d bytes", ErrProtocol, limit)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if len(head) == 0 {
				return nil, &nothingReadError{err}
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, err
			}
			return nil, fmt.Errorf("%w: response header cut short: %v", ErrProtocol, err)
		}
		line := head[lineStart:]
		if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			if lineStart == 0 {
				return nil, fmt.Errorf("%w: empty status line", ErrProtocol)
			}
			break
		}
		if lineStart == 0 && (len(line) < 7 || string(line[:7]) != "HTTP/1.") {
			// Not HTTP/1 (an SSH banner, ICY, HTTP/2): fail now rather
			// than wait for a blank line that may never come.
			return nil, fmt.Errorf("%w: malformed status line %q", ErrProtocol, clip(strings.TrimRight(string(line), "\r\n")))
		}
		lineStart = len(head)
	}
	if cap(head) <= 8<<10 {
		pc.head = head
	}
	return parseHead(string(head), req)
}

// parseHead parses a response head held in s (status line, fields, blank
// line), per RFC 9112 §4 and §5.
func parseHead(s string, req *http.Request) (*http.Response, error) {
	line, rest := cutLine(s)
	resp := &http.Response{Request: req}
	// status-line = HTTP-version SP status-code SP [ reason-phrase ]
	if len(line) < 12 || line[:7] != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' {
		return nil, fmt.Errorf("%w: malformed status line %q", ErrProtocol, clip(line))
	}
	resp.Proto = line[:8]
	resp.ProtoMajor, resp.ProtoMinor = 1, int(line[7]-'0')
	code := 0
	for i := 9; i < 12; i++ {
		c := line[i]
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("%w: malformed status code in %q", ErrProtocol, clip(line))
		}
		code = code*10 + int(c-'0')
	}
	// RFC 9110 §15: codes outside 100–599 are invalid.
	if code < 100 || code > 599 || (len(line) > 12 && line[12] != ' ') {
		return nil, fmt.Errorf("%w: malformed status line %q", ErrProtocol, clip(line))
	}
	resp.StatusCode = code
	resp.Status = line[9:]
	if len(line) <= 13 {
		resp.Status = line[9:12] + " " + http.StatusText(code)
	}
	if !wire.ValidValue(resp.Status) {
		return nil, fmt.Errorf("%w: control character in status line", ErrProtocol)
	}

	n := strings.Count(rest, "\n") + 1 // a last line may lack its LF
	vals := make([]string, n)
	h := make(http.Header, n)
	i := 0
	for {
		line, rest = cutLine(rest)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// RFC 9112 §5.2: a proxy must reject or unfold obs-fold.
			return nil, fmt.Errorf("%w: obsolete line folding in response header", ErrProtocol)
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return nil, fmt.Errorf("%w: malformed header line %q", ErrProtocol, clip(line))
		}
		name := line[:colon]
		canonical, ok := checkName(name)
		if !ok {
			// Includes whitespace before the colon (RFC 9112 §5.1).
			return nil, fmt.Errorf("%w: invalid header name %q", ErrProtocol, clip(name))
		}
		if !canonical {
			name = http.CanonicalHeaderKey(name)
		}
		value := trimOWS(line[colon+1:])
		if !wire.ValidValue(value) {
			return nil, fmt.Errorf("%w: control character in header %s", ErrProtocol, name)
		}
		if old, ok := h[name]; ok {
			h[name] = append(old, value)
		} else {
			vals[i] = value
			h[name] = vals[i : i+1 : i+1]
			i++
		}
	}
	resp.Header = h
	resp.Close = shouldClose(resp)
	return resp, nil
}

// shouldClose reports whether the origin will close the connection after
// this response (RFC 9112 §9.3).
func shouldClose(resp *http.Response) bool {
	conn := resp.Header["Connection"]
	if hasToken(conn, "close") {
		return true
	}
	if resp.ProtoMinor == 0 {
		return !hasToken(conn, "keep-alive")
	}
	return false
}

// cutLine is wire.CutLine.
func cutLine(s string) (line, rest string) { return wire.CutLine(s) }

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// checkName reports whether name is a valid field name and already
// canonical (see wire.CheckName).
func checkName(name string) (canonical, ok bool) { return wire.CheckName(name) }

func trimOWS(s string) string { return wire.TrimOWS(s) }

func hasToken(vals []string, token string) bool { return wire.HasToken(vals, token) }

const (
	modeLength = iota
	modeChunked
	modeClose
)

var errBodyClosed = errors.New("response body closed")

// body is a response body streaming from the connection. Reading it to
// EOF hands the connection back to the pool; closing it early closes the
// connection. Not safe for concurrent use (like any io.Reader).
type body struct {
	ex     *exchange
	resp   *http.Response
	mode   int
	remain int64
	cr     io.Reader
	err    error // sticky: io.EOF, errBodyClosed or the failure
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	pc := b.ex.pc
	if d := pc.t.ReadIdleTimeout; d > 0 {
		pc.nc.SetReadDeadline(time.Now().Add(d))
		if pc.cancelled.Load() {
			return 0, b.fail(b.ex.req.Context().Err())
		}
	}
	switch b.mode {
	case modeLength:
		if int64(len(p)) > b.remain {
			p = p[:b.remain]
		}
		n, err := pc.br.Read(p)
		b.remain -= int64(n)
		if b.remain == 0 {
			b.err = io.EOF
			b.ex.finish(b.resp.Close)
			return n, io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return n, b.fail(err)
		}
		return n, nil
	case modeChunked:
		if b.cr == nil {
			b.cr = httputil.NewChunkedReader(pc.br)
		}
		n, err := b.cr.Read(p)
		if err == io.EOF {
			if err := b.readTrailer(); err != nil {
				return n, b.fail(err)
			}
			b.err = io.EOF
			b.ex.finish(b.resp.Close)
			return n, io.EOF
		}
		if err != nil {
			return n, b.fail(fmt.Errorf("%w: %v", ErrProtocol, err))
		}
		return n, nil
	default:
		n, err := pc.br.Read(p)
		if err == io.EOF {
			b.err = io.EOF
			b.ex.finish(true)
			return n, io.EOF
		}
		if err != nil {
			return n, b.fail(err)
		}
		return n, nil
	}
}

func (b *body) fail(err error) error {
	if err == nil {
		err = errBodyClosed
	}
	if cerr := b.ex.req.Context().Err(); cerr != nil && b.ex.pc.cancelled.Load() {
		err = cerr
	}
	b.err = err
	b.ex.abort()
	return err
}

// SpliceTo copies the rest of a Content-Length body from a plain TCP
// connection to dst with dst.ReadFrom. The source it hands over is a
// splice.TCPWriterTo, so when dst is a TCP connection (internal/server's
// ResponseWriter offers its socket) the kernel splices the bytes with
// splice.Stream; otherwise dst reads them chunk by chunk. before, if not
// nil, runs ahead of each write (to refresh the destination's write
// deadline). It reports ok=false, having
// copied nothing, when the body cannot be spliced; the caller then reads it
// the ordinary way.
func (b *body) SpliceTo(dst WriterReaderFrom, before func()) (n int64, ok bool, err error) {
	pc := b.ex.pc
	tc, isTCP := pc.nc.(*net.TCPConn)
	if b.err != nil || b.mode != modeLength || !isTCP || b.remain < spliceMin {
		return 0, false, nil
	}
	// What the header read already buffered goes first.
	if k := pc.br.Buffered(); k > 0 {
		if int64(k) > b.remain {
			k = int(b.remain)
		}
		buf, _ := pc.br.Peek(k)
		m, err := dst.Write(buf)
		pc.br.Discard(m)
		n += int64(m)
		b.remain -= int64(m)
		if err != nil {
			return n, true, b.fail(err)
		}
	}
	idle := pc.t.ReadIdleTimeout
	src := &bodySource{b: b, lr: io.LimitedReader{R: tc}}
	src.s = splice.Stream{Src: tc, Idle: idle, Stopped: pc.cancelled.Load, BeforeWrite: before}
	for b.remain > 0 {
		if before != nil {
			before()
		}
		if idle > 0 {
			tc.SetReadDeadline(time.Now().Add(idle))
			if pc.cancelled.Load() {
				return n, true, b.fail(b.ex.req.Context().Err())
			}
		}
		src.lr.N = min(b.remain, spliceChunk)
		m, err := dst.ReadFrom(src)
		n += m
		b.remain -= m
		if err == nil && m == 0 && b.remain > 0 {
			err = io.ErrUnexpectedEOF // the origin closed early
		}
		if err != nil {
			var ne net.Error
			if m > 0 && !src.spliced && errors.As(err, &ne) && ne.Timeout() && !pc.cancelled.Load() {
				continue // a read deadline with progress: slow, not idle
			}
			return n, true, b.fail(err)
		}
	}
	src.s.Done()
	b.err = io.EOF
	b.ex.finish(b.resp.Close)
	return n, true, nil
}

// bodySource is what SpliceTo hands to the destination's ReadFrom: a
// reader of the body's next chunk for a destination that is not a TCP
// socket (a TLS client), and a splice.Stream for one that is.
type bodySource struct {
	b       *body
	lr      io.LimitedReader // the chunk, for Read
	s       splice.Stream
	spliced bool // WriteToTCP was used: its timeouts are real (no progress for Idle)
}

func (src *bodySource) Read(p []byte) (int, error) { return src.lr.Read(p) }

// WriteToTCP splices up to limit bytes of the rest of the body (not only
// the chunk: the stream bounds each wait itself) into dst.
func (src *bodySource) WriteToTCP(dst *net.TCPConn, limit int64) (int64, error) {
	if !splice.Supported() {
		orig := src.lr.N
		if limit >= 0 {
			src.lr.N = min(orig, limit)
		}
		n, err := dst.ReadFrom(&src.lr)
		src.lr.N = orig - n
		return n, err
	}
	src.spliced = true
	src.s.Dst = dst
	want := src.b.remain
	if limit >= 0 {
		want = min(want, limit)
	}
	n, err := src.s.Copy(want)
	if err == nil && n < want {
		err = io.ErrUnexpectedEOF // the origin closed early
	}
	return n, err
}

// WriterReaderFrom is a splice destination: net/http's ResponseWriter.
type WriterReaderFrom interface {
	io.Writer
	io.ReaderFrom
}

const (
	// spliceMin is the smallest body worth the set-up of a splice.
	spliceMin = 64 << 10
	// spliceChunk bounds one chunk of a body read by a destination that
	// is not a TCP socket, so deadlines are refreshed between chunks.
	spliceChunk = 4 << 20
)

// Close releases the body; before EOF it closes the connection, since the
// rest of the response would have to be read to reuse it.
func (b *body) Close() error {
	if b.err == nil {
		b.err = errBodyClosed
		b.ex.abort()
	}
	return nil
}

// readTrailer reads the trailer section after the last chunk
// (RFC 9112 §7.1.2) into resp.Trailer.
func (b *body) readTrailer() error {
	br := b.ex.pc.br
	total := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("%w: reading trailer: %v", ErrProtocol, err)
		}
		total += len(line)
		if total > b.ex.pc.t.maxHeaderBytes() {
			return fmt.Errorf("%w: trailer too large", ErrProtocol)
		}
		s := strings.TrimRight(string(line), "\r\n")
		if s == "" {
			return nil
		}
		colon := strings.IndexByte(s, ':')
		if colon <= 0 {
			return fmt.Errorf("%w: malformed trailer line", ErrProtocol)
		}
		if _, ok := checkName(s[:colon]); !ok {
			return fmt.Errorf("%w: invalid trailer name", ErrProtocol)
		}
		value := trimOWS(s[colon+1:])
		if !validValue(value) {
			return fmt.Errorf("%w: invalid trailer value", ErrProtocol)
		}
		name := http.CanonicalHeaderKey(s[:colon])
		if forbiddenTrailer(name) {
			continue
		}
		if b.resp.Trailer == nil {
			b.resp.Trailer = make(http.Header)
		}
		b.resp.Trailer[name] = append(b.resp.Trailer[name], value)
	}
}
