package rewrite

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"testing/synctest"

	"github.com/andybalholm/brotli"
)

const (
	testPage = `<!DOCTYPE html><html><head><title>t</title></head><body><p>a cat</p><div class=ad>ad</div></body></html>`
	testWant = `<!DOCTYPE html><html><head>[H]<title>t</title></head><body><p>a dog</p>[B]</body></html>`
)

func testRules(t testing.TB) *Rules {
	return mustCompile(t, nil, []HTMLRule{{
		Match:      Match{Host: "news.example"},
		Remove:     []string{"div.ad"},
		InjectHead: "[H]",
		InjectBody: "[B]",
		Replace:    []TextReplace{{Regex: "cat", With: "dog"}},
	}})
}

// TestNotRewritten lists responses that must pass through untouched,
// header and body.
func TestNotRewritten(t *testing.T) {
	tests := []struct {
		name   string
		method string
		url    string
		status int
		header []string
		reqHdr []string
	}{
		{"HEAD", "HEAD", "", 200, nil, nil},
		{"206", "", "", 206, []string{"Content-Range: bytes 0-10/100"}, nil},
		{"200 with Content-Range", "", "", 200, []string{"Content-Range: bytes 0-10/100"}, nil},
		{"204", "", "", 204, nil, nil},
		{"404", "", "", 404, nil, nil},
		{"no-transform", "", "", 200, []string{"Cache-Control: public, no-transform"}, nil},
		{"no-transform in the request", "", "", 200, nil, []string{"Cache-Control: no-transform"}},
		{"text/plain", "", "", 200, []string{"Content-Type: text/plain"}, nil},
		{"no Content-Type", "", "", 200, []string{"Content-Type:"}, nil},
		{"zstd", "", "", 200, []string{"Content-Encoding: zstd"}, nil},
		{"two codings", "", "", 200, []string{"Content-Encoding: gzip, br"}, nil},
		{"UTF-16", "", "", 200, []string{"Content-Type: text/html; charset=utf-16le"}, nil},
		{"ISO-2022-JP", "", "", 200, []string{"Content-Type: text/html; charset=iso-2022-jp"}, nil},
		{"other host", "", "http://other.example/", 200, nil, nil},
		{"Content-Length: 0", "", "", 200, []string{"Content-Length: 0"}, nil},
	}
	rs := testRules(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, url := cmp(tt.method, "GET"), cmp(tt.url, "http://news.example/")
			req := newRequest(t, method, url)
			for _, l := range tt.reqHdr {
				k, v, _ := strings.Cut(l, ":")
				req.Header.Add(k, strings.TrimSpace(v))
			}
			header := append([]string{"Content-Type: text/html", "ETag: \"v1\"", "Content-Length: 119", "Accept-Ranges: bytes"}, tt.header...)
			resp := newResponse(req, tt.status, strings.NewReader(testPage), header...)
			resp.Header = collapse(resp.Header)
			if resp.Header.Get("Content-Length") == "0" {
				resp.ContentLength = 0
			}
			before := resp.Header.Clone()
			body := resp.Body
			rs.Response(req, resp)
			if resp.Body != body {
				t.Fatal("the body was replaced")
			}
			for k, v := range before {
				if !slices.Equal(resp.Header[k], v) {
					t.Errorf("%s: got %q, want %q", k, resp.Header[k], v)
				}
			}
			if len(resp.Header) != len(before) {
				t.Errorf("header: got %v, want %v", resp.Header, before)
			}
		})
	}
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// collapse keeps the last line of each field, so a test can override the
// defaults (an empty value deletes the field).
func collapse(h http.Header) http.Header {
	out := http.Header{}
	for k, vv := range h {
		if v := vv[len(vv)-1]; v != "" {
			out[k] = []string{v}
		}
	}
	return out
}

// TestHeadersAfterRewrite checks what a rewritten response's header says.
func TestHeadersAfterRewrite(t *testing.T) {
	tests := []struct{ etag, want string }{
		{`"v1"`, `W/"v1"`},
		{`W/"v1"`, `W/"v1"`},
		{`v1`, ``}, // malformed: dropped
	}
	rs := testRules(t)
	for _, tt := range tests {
		req := newRequest(t, "GET", "http://news.example/")
		resp := newResponse(req, 200, strings.NewReader(testPage),
			"Content-Type: text/html; charset=utf-8", "ETag: "+tt.etag, "Content-Length: 119", "Accept-Ranges: bytes",
			"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==", "Repr-Digest: sha-256=:x:", "Content-Digest: sha-256=:x:", "Cache-Control: max-age=60")
		resp.ContentLength = 119
		rs.Response(req, resp)
		if got := resp.Header.Get("Etag"); got != tt.want {
			t.Errorf("ETag %s: got %q, want %q", tt.etag, got, tt.want)
		}
		if resp.ContentLength != -1 {
			t.Errorf("ContentLength: got %d, want -1", resp.ContentLength)
		}
		for _, k := range []string{"Content-Length", "Accept-Ranges", "Content-Md5", "Repr-Digest", "Content-Digest"} {
			if v, ok := resp.Header[k]; ok {
				t.Errorf("%s: got %q, want it removed", k, v)
			}
		}
		if got := resp.Header.Get("Cache-Control"); got != "max-age=60" {
			t.Errorf("Cache-Control: got %q, want it kept", got)
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || string(got) != testWant {
			t.Errorf("body: got %q, %v; want %q", got, err, testWant)
		}
	}
}

// TestNotModifiedETag checks that a 304 for a page that would be
// rewritten carries a weak ETag, like the rewritten page did.
func TestNotModifiedETag(t *testing.T) {
	rs := testRules(t)
	for _, tt := range []struct {
		url, ct, want string
	}{
		{"http://news.example/", "", `W/"v1"`},
		{"http://news.example/", "text/html", `W/"v1"`},
		{"http://news.example/", "image/png", `"v1"`},
		{"http://other.example/", "", `"v1"`},
	} {
		req := newRequest(t, "GET", tt.url)
		resp := newResponse(req, 304, nil, "ETag: \"v1\"")
		if tt.ct != "" {
			resp.Header.Set("Content-Type", tt.ct)
		}
		rs.Response(req, resp)
		if got := resp.Header.Get("Etag"); got != tt.want {
			t.Errorf("304 for %s (%s): ETag got %q, want %q", tt.url, tt.ct, got, tt.want)
		}
	}
}

// TestCompression checks round trips through each content coding: the
// client gets the same coding, holding the rewritten page.
func TestCompression(t *testing.T) {
	tests := []struct {
		coding  string // Content-Encoding sent by the origin
		encode  func(io.Writer) io.WriteCloser
		decode  func(io.Reader) (io.Reader, error)
		wantEnc string
	}{
		{"gzip", func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }, gunzip, "gzip"},
		{"x-gzip", func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }, gunzip, "x-gzip"},
		{"deflate", func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) }, unzlib, "deflate"},
		{"deflate", func(w io.Writer) io.WriteCloser { // raw deflate, as some servers send
			fw, _ := flate.NewWriter(w, 5)
			return fw
		}, unzlib, "deflate"},
		{"br", func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) }, unbrotli, "br"},
	}
	rs := testRules(t)
	page := newsPage(100)
	want := rewritePage(t, rs, "text/html", page)
	for _, tt := range tests {
		t.Run(tt.coding, func(t *testing.T) {
			var compressed bytes.Buffer
			w := tt.encode(&compressed)
			io.WriteString(w, page)
			w.Close()
			size := compressed.Len()
			req := newRequest(t, "GET", "http://news.example/")
			resp := newResponse(req, 200, &compressed, "Content-Type: text/html", "Content-Encoding: "+tt.coding)
			rs.Response(req, resp)
			if got := resp.Header.Get("Content-Encoding"); got != tt.wantEnc {
				t.Errorf("Content-Encoding: got %q, want %q", got, tt.wantEnc)
			}
			out, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			r, err := tt.decode(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("decoding the rewritten body: %v", err)
			}
			if string(got) != want {
				t.Errorf("got %q, want %q", clip(string(got)), clip(want))
			}
			t.Logf("%s: origin %d bytes, rewritten %d bytes", tt.coding, size, len(out))
		})
	}
}

func gunzip(r io.Reader) (io.Reader, error)   { return gzip.NewReader(r) }
func unzlib(r io.Reader) (io.Reader, error)   { return zlib.NewReader(r) }
func unbrotli(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }

// TestBrokenInput checks that a body cut short or corrupt ends with an
// error, never a clean end, and that a compressed one is not finished.
func TestBrokenInput(t *testing.T) {
	boom := errors.New("connection reset")
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	io.WriteString(w, newsPage(50))
	w.Close()
	truncated := gz.Bytes()[:gz.Len()/2]
	corrupt := bytes.Clone(gz.Bytes())
	for i := 100; i < 200; i++ {
		corrupt[i] ^= 0x55
	}
	tests := []struct {
		name    string
		body    io.Reader
		coding  string
		wantErr error
	}{
		{"origin fails", io.MultiReader(strings.NewReader("<html><body><p>some"), &failReader{boom}), "", boom},
		{"origin fails in a tag", io.MultiReader(strings.NewReader("<html><body><div class="), &failReader{boom}), "", boom},
		{"gzip origin fails", io.MultiReader(bytes.NewReader(truncated), &failReader{boom}), "gzip", boom},
		{"gzip truncated", bytes.NewReader(truncated), "gzip", io.ErrUnexpectedEOF},
		{"gzip corrupt", bytes.NewReader(corrupt), "gzip", nil},
		{"not gzip at all", strings.NewReader("<html>plain</html>"), "gzip", gzip.ErrHeader},
		{"br truncated", bytes.NewReader(brotliBytes(newsPage(50))[:500]), "br", nil},
	}
	rs := testRules(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, "GET", "http://news.example/")
			resp := newResponse(req, 200, tt.body, "Content-Type: text/html", "Content-Encoding: "+tt.coding)
			rs.Response(req, resp)
			out, err := io.ReadAll(resp.Body)
			if err == nil {
				t.Fatal("got a clean end, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got error %v, want %v", err, tt.wantErr)
			}
			if tt.coding == "gzip" && len(out) > 0 {
				if _, err := io.ReadAll(mustGunzip(t, out)); err == nil {
					t.Error("the rewritten gzip stream is complete; a broken input must not give one")
				}
			}
		})
	}
}

func mustGunzip(t *testing.T, b []byte) io.Reader {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func brotliBytes(s string) []byte {
	var b bytes.Buffer
	w := brotli.NewWriter(&b)
	io.WriteString(w, s)
	w.Close()
	return b.Bytes()
}

type failReader struct{ err error }

func (r *failReader) Read([]byte) (int, error) { return 0, r.err }

// TestEmptyCompressedBody checks that an empty body with a content coding
// (which some servers send) is an empty document, not an error.
func TestEmptyCompressedBody(t *testing.T) {
	rs := mustCompile(t, nil, []HTMLRule{{Remove: []string{"div"}}})
	for _, c := range []string{"gzip", "deflate"} {
		req := newRequest(t, "GET", "http://news.example/")
		resp := newResponse(req, 200, strings.NewReader(""), "Content-Type: text/html", "Content-Encoding: "+c)
		rs.Response(req, resp)
		if _, err := io.ReadAll(resp.Body); err != nil {
			t.Errorf("%s: got %v, want a clean end", c, err)
		}
	}
}

// stepOrigin is an origin body that sends what the test puts in its
// channel, when it puts it there.
type stepOrigin struct {
	ch  chan []byte
	cur []byte
}

func (o *stepOrigin) Read(p []byte) (int, error) {
	if len(o.cur) == 0 {
		b, ok := <-o.ch
		if !ok {
			return 0, io.EOF
		}
		o.cur = b
	}
	n := copy(p, o.cur)
	o.cur = o.cur[n:]
	return n, nil
}

// TestStreaming checks that the client gets what can be rewritten of the
// first part of a page while the origin still holds back the rest. In a
// synctest bubble, a rewriter that waited for the rest would deadlock the
// test instead of hanging it.
func TestStreaming(t *testing.T) {
	const (
		part1 = `<html><head><title>t</title></head><body><p>first</p><div class=ad>ad</div><p>seco`
		part2 = `nd</p></body></html>`
		want1 = `<html><head>[H]<title>t</title></head><body><p>first</p><p>`
		want  = `<html><head>[H]<title>t</title></head><body><p>first</p><p>second</p>[B]</body></html>`
	)
	for _, coding := range []string{"", "gzip", "deflate", "br"} {
		t.Run(cmp(coding, "identity"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rs := testRules(t)
				origin := &stepOrigin{ch: make(chan []byte)}
				enc, flush := streamEncoder(coding)
				go func() {
					origin.ch <- flush([]byte(part1))
					synctest.Wait()
					origin.ch <- flush([]byte(part2))
					origin.ch <- enc.close()
					close(origin.ch)
				}()
				req := newRequest(t, "GET", "http://news.example/")
				resp := newResponse(req, 200, origin, "Content-Type: text/html", "Content-Encoding: "+coding)
				rs.Response(req, resp)
				var got []byte
				buf := make([]byte, 32<<10)
				for !strings.HasPrefix(decodeSoFar(coding, got), want1) {
					n, err := resp.Body.Read(buf)
					if err != nil {
						t.Fatalf("after %q: %v", decodeSoFar(coding, got), err)
					}
					got = append(got, buf[:n]...)
				}
				if s := decodeSoFar(coding, got); s != want1 {
					t.Errorf("before the rest arrived: got %q, want %q", s, want1)
				}
				rest, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if s := decodeSoFar(coding, append(got, rest...)); s != want {
					t.Errorf("in the end: got %q, want %q", s, want)
				}
				resp.Body.Close()
			})
		})
	}
}

// streamEncoder compresses a page in parts, flushing after each so the
// part can be decoded on its own.
type streamEnc struct {
	buf bytes.Buffer
	w   interface {
		io.WriteCloser
		Flush() error
	}
}

func (e *streamEnc) close() []byte {
	if e.w == nil {
		return nil
	}
	e.w.Close()
	b := bytes.Clone(e.buf.Bytes())
	e.buf.Reset()
	return b
}

func streamEncoder(coding string) (*streamEnc, func([]byte) []byte) {
	e := &streamEnc{}
	switch coding {
	case "gzip":
		e.w = gzip.NewWriter(&e.buf)
	case "deflate":
		e.w = zlib.NewWriter(&e.buf)
	case "br":
		e.w = brotli.NewWriter(&e.buf)
	}
	return e, func(p []byte) []byte {
		if e.w == nil {
			return p
		}
		e.w.Write(p)
		e.w.Flush()
		b := bytes.Clone(e.buf.Bytes())
		e.buf.Reset()
		return b
	}
}

// decodeSoFar decodes as much of a compressed stream as there is.
func decodeSoFar(coding string, b []byte) string {
	var r io.Reader
	var err error
	switch coding {
	case "":
		return string(b)
	case "gzip":
		r, err = gzip.NewReader(bytes.NewReader(b))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(b))
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	}
	if err != nil {
		return ""
	}
	var out bytes.Buffer
	io.Copy(&out, r)
	return out.String()
}

// TestClose checks that closing a body early, read or not, closes the
// origin's body and leaves nothing running (synctest fails on a goroutine
// left blocked).
func TestClose(t *testing.T) {
	page := newsPage(64)
	for _, coding := range []string{"", "gzip"} {
		for _, read := range []int{0, 1, 100, 40000} {
			synctest.Test(t, func(t *testing.T) {
				rs := testRules(t)
				body := []byte(page)
				if coding == "gzip" {
					var b bytes.Buffer
					w := gzip.NewWriter(&b)
					w.Write(body)
					w.Close()
					body = b.Bytes()
				}
				origin := &closeRecorder{Reader: bytes.NewReader(body)}
				req := newRequest(t, "GET", "http://news.example/")
				resp := newResponse(req, 200, nil, "Content-Type: text/html", "Content-Encoding: "+coding)
				resp.Body = origin
				rs.Response(req, resp)
				if read > 0 {
					// (gzip's output is shorter than 40000: then it is read to the end.)
					if _, err := io.ReadFull(resp.Body, make([]byte, read)); err != nil && err != io.ErrUnexpectedEOF {
						t.Fatal(err)
					}
				}
				if err := resp.Body.Close(); err != nil {
					t.Fatal(err)
				}
				if !origin.closed {
					t.Errorf("%s, after reading %d bytes: the origin's body was not closed", coding, read)
				}
				if _, err := resp.Body.Read(make([]byte, 10)); err == nil {
					t.Error("Read after Close succeeded")
				}
			})
		}
	}
}

// TestSmallReads checks that reading the body a byte at a time gives
// what reading it at once does.
func TestSmallReads(t *testing.T) {
	rs := testRules(t)
	page := newsPage(20)
	want := rewritePage(t, rs, "text/html", page)
	req := newRequest(t, "GET", "http://news.example/")
	resp := newResponse(req, 200, strings.NewReader(page), "Content-Type: text/html")
	rs.Response(req, resp)
	got, err := io.ReadAll(iotest.OneByteReader(resp.Body))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got %q, want %q", clip(string(got)), clip(want))
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// TestTrailerDigests checks that digests of the body sent as trailers are
// dropped too.
func TestTrailerDigests(t *testing.T) {
	rs := testRules(t)
	req := newRequest(t, "GET", "http://news.example/")
	resp := newResponse(req, 200, strings.NewReader(testPage), "Content-Type: text/html")
	resp.Trailer = http.Header{"Content-Digest": {"sha-256=:x:"}, "X-Other": {"kept"}}
	rs.Response(req, resp)
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if _, ok := resp.Trailer["Content-Digest"]; ok {
		t.Error("Content-Digest trailer kept")
	}
	if got := resp.Trailer.Get("X-Other"); got != "kept" {
		t.Errorf("X-Other trailer: got %q, want kept", got)
	}
}
