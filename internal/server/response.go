package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"sluice/internal/copybuf"
	"sluice/internal/splice"
	"sluice/internal/wire"
)

// response is the http.ResponseWriter the proxy handler writes to. The
// header goes out with the first body byte, Flush, or the end of the
// handler, framed by Content-Length when the handler set one, chunked
// otherwise (close-delimited for HTTP/1.0 clients). It also offers what
// the handler needs beyond the interface: Flush, Hijack, ReadFrom (splice),
// read and write deadlines, and trailers via the "Trailer" header or
// http.TrailerPrefix.
type response struct {
	c      *conn
	req    *http.Request
	header http.Header
	bw     *bufio.Writer

	status      int
	wroteHeader bool // a final status was chosen
	headerSent  bool // the header is in bw
	noBody      bool
	chunked     bool
	closeAfter  bool
	length      int64 // Content-Length, -1 when unknown
	written     int64
	hijacked    bool

	// mu orders "100 Continue" (sent from whichever goroutine first reads
	// the body) against the final header.
	mu            sync.Mutex
	continueState int // 0 may send, 1 sent, 2 too late
}

var (
	_ http.ResponseWriter = (*response)(nil)
	_ http.Flusher        = (*response)(nil)
	_ http.Hijacker       = (*response)(nil)
	_ io.ReaderFrom       = (*response)(nil)
)

// ErrBodyNotAllowed is returned by Write for a response that has no body
// (1xx, 204, 304).
var ErrBodyNotAllowed = http.ErrBodyNotAllowed

// Header returns the response's header map, made on first use: a
// handler that brings its own (SetHeader) never pays for one.
func (w *response) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

// SetHeader makes h the response's header map, which the response then
// owns; fields set earlier through Header are kept unless h has them too.
// A proxy that already holds a response's whole header map uses it rather
// than copying field by field into a map that grows on every response.
// It does nothing once the header is written.
func (w *response) SetHeader(h http.Header) {
	if w.wroteHeader || w.hijacked {
		return
	}
	if h == nil {
		h = make(http.Header)
	}
	for k, v := range w.header {
		if _, ok := h[k]; !ok {
			h[k] = v
		}
	}
	w.header = h
}

func (w *response) WriteHeader(code int) {
	if w.hijacked || w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.writeInterim(code)
		return
	}
	w.status = code
	w.wroteHeader = true
}

// writeInterim sends a 1xx response at once (RFC 9110 §15.2), with the
// current header fields, to HTTP/1.1 clients only.
func (w *response) writeInterim(code int) {
	if w.req.ProtoMinor == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if code == http.StatusContinue {
		if w.continueState != 0 {
			return
		}
		w.continueState = 1
	}
	writeStatusLine(w.bw, code)
	for k, vv := range w.header {
		for _, v := range vv {
			w.writeField(k, v)
		}
	}
	w.bw.WriteString("\r\n")
	w.bw.Flush()
}

// sendContinue answers "Expect: 100-continue" when the body is first read,
// unless the final response has begun.
func (w *response) sendContinue() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.continueState != 0 || w.hijacked {
		return
	}
	w.continueState = 1
	w.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	w.bw.Flush()
}

func writeStatusLine(bw *bufio.Writer, code int) {
	bw.WriteString("HTTP/1.1 ")
	var b [3]byte
	bw.Write(strconv.AppendInt(b[:0], int64(code), 10))
	bw.WriteByte(' ')
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	bw.WriteString(text)
	bw.WriteString("\r\n")
}

// sendHeader chooses the framing and writes the status line and header
// into bw (not flushed). final is true when the handler has returned, so
// a response with no body written so far has an empty body.
func (w *response) sendHeader(final bool) {
	if w.headerSent {
		return
	}
	w.headerSent = true
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	w.mu.Lock()
	if w.continueState == 0 {
		w.continueState = 2
	}
	w.mu.Unlock()

	h := w.Header()
	code := w.status
	w.noBody = code < 200 || code == http.StatusNoContent || code == http.StatusNotModified
	w.length = -1
	if cl, ok := h["Content-Length"]; ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(firstOf(cl)), 10, 64); err == nil && n >= 0 {
			w.length = n
		} else {
			delete(h, "Content-Length")
		}
	}
	if wire.HasToken(h["Connection"], "close") || w.req.Close || w.c.srv.shuttingDown() {
		w.closeAfter = true
	}
	_, trailers := h["Trailer"]
	switch {
	case w.noBody:
		delete(h, "Content-Length")
		if code == http.StatusNoContent || code == http.StatusNotModified {
			// RFC 9110 §8.6: 304 may carry the Content-Length of the
			// selected representation; 204 must not.
			if code == http.StatusNotModified && w.length >= 0 {
				h["Content-Length"] = []string{strconv.FormatInt(w.length, 10)}
			}
		}
	case w.req.Method == http.MethodHead:
		w.noBody = true // keep the Content-Length the handler set
	case w.length >= 0 && !trailers:
	case final && w.written == 0 && !trailers:
		w.length = 0
		h["Content-Length"] = []string{"0"}
	case w.req.ProtoMinor == 1:
		delete(h, "Content-Length")
		w.chunked = true
		w.length = -1
	default:
		// An HTTP/1.0 client: the body ends when the connection does.
		delete(h, "Content-Length")
		w.closeAfter = true
	}
	if _, ok := h["Date"]; !ok {
		h["Date"] = []string{httpDate()}
	}

	bw := w.bw
	writeStatusLine(bw, code)
	for k, vv := range h {
		switch {
		case k == "Transfer-Encoding" || k == "Connection" || strings.HasPrefix(k, http.TrailerPrefix):
			continue
		}
		for _, v := range vv {
			w.writeField(k, v)
		}
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n")
	case w.req.ProtoMinor == 0:
		bw.WriteString("Connection: keep-alive\r\n")
	case code == http.StatusSwitchingProtocols:
		for _, v := range h["Connection"] {
			bw.WriteString("Connection: " + v + "\r\n")
		}
	}
	bw.WriteString("\r\n")
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.headerSent {
		w.sendHeader(false)
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, ErrBodyNotAllowed
	}
	if len(p) == 0 {
		return 0, nil
	}
	var err error
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		p = p[:w.length-w.written]
		err = http.ErrContentLength
	}
	if w.chunked {
		var b [16]byte
		w.bw.Write(strconv.AppendInt(b[:0], int64(len(p)), 16))
		w.bw.WriteString("\r\n")
	}
	n, werr := w.bw.Write(p)
	w.written += int64(n)
	if w.chunked && werr == nil {
		_, werr = w.bw.WriteString("\r\n")
	}
	if werr != nil {
		w.closeAfter = true
		return n, werr
	}
	return n, err
}

func (w *response) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// Flush sends what is buffered, header included.
func (w *response) Flush() {
	w.FlushError()
}

// FlushError is Flush that reports a write error (http.ResponseController
// looks for it).
func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.headerSent {
		w.sendHeader(false)
	}
	return w.bw.Flush()
}

// ReadFrom copies src into a Content-Length body with the client
// connection's ReadFrom, which splices when src is a TCP connection, or
// hands the client socket to src when src can splice itself
// (splice.TCPWriterTo: a proxied body).
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	if !w.headerSent {
		w.sendHeader(false)
	}
	tc, ok := w.c.nc.(*net.TCPConn)
	if w.hijacked || w.chunked || w.noBody || !ok {
		bp := copybuf.Get()
		defer copybuf.Put(bp)
		return io.CopyBuffer(writerOnly{w}, src, *bp)
	}
	if err := w.bw.Flush(); err != nil {
		return 0, err
	}
	var n int64
	var err error
	if w.length >= 0 {
		// Never send past the declared length: the excess would be read
		// as the start of the next response. A LimitedReader is clamped
		// in place so the kernel can still splice from what it wraps.
		left := w.length - w.written
		if ts, ok := src.(splice.TCPWriterTo); ok {
			n, err = ts.WriteToTCP(tc, left)
		} else if lr, ok := src.(*io.LimitedReader); ok {
			orig := lr.N
			lr.N = min(orig, left)
			n, err = tc.ReadFrom(lr)
			lr.N = orig - n
		} else {
			n, err = tc.ReadFrom(&io.LimitedReader{R: src, N: left})
		}
	} else if ts, ok := src.(splice.TCPWriterTo); ok {
		n, err = ts.WriteToTCP(tc, -1)
	} else {
		n, err = tc.ReadFrom(src)
	}
	w.written += n
	if w.length >= 0 && w.written > w.length {
		w.closeAfter = true
		if err == nil {
			err = http.ErrContentLength
		}
	}
	if err != nil {
		w.closeAfter = true
	}
	return n, err
}

type writerOnly struct{ io.Writer }

// Hijack hands the connection over (CONNECT, WebSocket). The returned
// reader holds any bytes the client sent after the request head.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if err := w.bw.Flush(); err != nil {
		return nil, nil, err
	}
	w.c.stopWatch()
	w.mu.Lock()
	w.hijacked = true
	w.mu.Unlock()
	c := w.c
	c.nc.SetReadDeadline(time.Time{}) // the request wait's, still armed
	c.hijacked = true
	c.srv.setState(c, http.StateHijacked)
	return c.nc, bufio.NewReadWriter(c.br, bufio.NewWriterSize(c.nc, 512)), nil
}

// SetReadDeadline sets the client connection's read deadline; a deadline in
// the past also stops the request body's reads from re-arming it.
func (w *response) SetReadDeadline(t time.Time) error {
	if !t.IsZero() && !t.After(time.Now()) {
		w.c.readAborted.Store(true)
	}
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	w.c.readDeadline.Store(ns) // body reads keep the earlier of this and the idle bound
	return w.c.nc.SetReadDeadline(t)
}

func (w *response) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }

// EnableFullDuplex is a no-op: request bodies can always be read while the
// response is written.
func (w *response) EnableFullDuplex() error { return nil }

var errIncomplete = errors.New("response shorter than its Content-Length")

// finish completes the response after the handler returned: header if not
// yet sent, last chunk and trailers, flush. It reports an error when the
// connection cannot carry another response.
func (w *response) finish() error {
	if !w.headerSent {
		w.sendHeader(true)
	}
	if w.chunked {
		w.bw.WriteString("0\r\n")
		w.writeTrailers()
		w.bw.WriteString("\r\n")
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	if !w.noBody && w.length >= 0 && w.written < w.length {
		return errIncomplete
	}
	return nil
}

// writeTrailers writes declared trailers and http.TrailerPrefix ones.
func (w *response) writeTrailers() {
	h := w.header
	for _, decl := range h["Trailer"] {
		for _, name := range strings.Split(decl, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			for _, v := range h[name] {
				w.writeField(name, v)
			}
		}
	}
	for k, vv := range h {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			for _, v := range vv {
				w.writeField(name, v)
			}
		}
	}
}

// writeField writes one header or trailer field, skipping any whose name
// is not a token or whose value holds control characters, so no handler
// can split the response head.
func (w *response) writeField(k, v string) {
	if _, ok := wire.CheckName(k); !ok || !wire.ValidValue(v) {
		return
	}
	w.bw.WriteString(k)
	w.bw.WriteString(": ")
	w.bw.WriteString(v)
	w.bw.WriteString("\r\n")
}
