package cache_test

// Storing responses (RFC 9111 §3): which responses may be stored
// (§3, §3.5, §5.2.2.3 must-understand, §5.2.2.5 no-store, §5.2.2.7
// private), which header fields are stored (§3.1, §5.2.2.4, §5.2.2.7),
// incomplete responses (§3.3), the cache key (§2), and HEAD (RFC 9110
// §9.3.2, RFC 9111 §4).

import (
	"bufio"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sluice/internal/proxytest"
)

func TestStorable(t *testing.T) {
	t.Parallel()
	cc := func(v string) [][2]string { return h("Cache-Control", v) }
	auth := []string{"Authorization", "FOO"}
	runReuse(t, []reuseCase{
		{name: "§5.2.2.5 no-store is not stored", resp: cc("no-store")},
		{name: "§5.2.2.5 no-store is case-insensitive", resp: cc("No-StOrE")},
		{name: "§5.2.2.5 no-store wins over max-age and Expires", resp: h("Cache-Control", "max-age=10000, no-store", "Expires", at(10000))},
		{name: "§5.2.2.5 no-store on a second field line", resp: h("Cache-Control", "max-age=10000", "Cache-Control", "no-store")},
		{name: "§5.2.2.5 no-store wins over public", resp: cc("public, max-age=10000, no-store")},
		{name: "§5.2.2.7 private is not stored by a shared cache", resp: cc("private, max-age=3600")},
		{name: "§5.2.2.7 PRIVATE is case-insensitive", resp: cc("PRIVATE, max-age=3600")},
		{name: "§5.2.2.7 private wins over s-maxage", resp: cc("private, s-maxage=3600")},
		{name: "§5.2.2.7 private on a second field line", resp: h("Cache-Control", "max-age=3600", "Cache-Control", "private")},
		{name: "§5.2.2.7 qualified private stores the rest", resp: cc(`private="X-Priv", max-age=3600`), advance: 10, reused: true},
		{name: "§3.5 Authorization: not stored with Expires", req1: auth, resp: h("Expires", at(30*86400))},
		{name: "§3.5 Authorization: not stored with max-age", req1: auth, resp: cc("max-age=3600")},
		{name: "§3.5 Authorization: stored with public", req1: auth, resp: cc("max-age=3600, public"), advance: 10, reused: true},
		{name: "§3.5 Authorization: stored with s-maxage", req1: auth, resp: cc("s-maxage=3600"), advance: 10, reused: true},
		{name: "§3.5 Authorization: stored with must-revalidate", req1: auth, resp: cc("max-age=3600, must-revalidate"), advance: 10, reused: true},
		{name: "§5.2.2.3 must-understand with an understood status ignores no-store", resp: cc("must-understand, no-store, max-age=3600"), advance: 10, reused: true},
		{name: "§5.2.2.3 must-understand with an unknown status is not stored", status: 299, resp: cc("must-understand, max-age=3600")},
		{name: "§5.2.2.3 must-understand with an understood status is stored", resp: cc("must-understand, max-age=3600"), advance: 10, reused: true},
		{name: "§5.2.2.4 no-cache is stored but not reused without validation", resp: cc("max-age=10000, no-cache")},
		{name: "§5.2.2.4 No-CaChE is case-insensitive", resp: cc("max-age=10000, No-CaChE")},
		{name: "§5.2.2.4 qualified no-cache allows reuse", resp: cc(`no-cache="X-A", max-age=3600`), advance: 10, reused: true},
		{name: "§3 Set-Cookie does not prevent storing", resp: h("Cache-Control", "max-age=3600", "Set-Cookie", "a=b"), advance: 10, reused: true},
		{name: "§4.2.2 no heuristic without Last-Modified (cache-tests freshness-none)", resp: nil, advance: 1},
	})
}

// TestStorableStatus checks that any final status with explicit freshness
// is stored and reused (RFC 9111 §3: "has … an explicit expiration
// time"), and not reused once stale (§4.2).
func TestStorableStatus(t *testing.T) {
	t.Parallel()
	var cases []reuseCase
	for _, s := range []int{200, 203, 204, 299, 301, 302, 303, 307, 308, 400, 404, 410, 499, 500, 502, 503, 504, 599} {
		cases = append(cases,
			reuseCase{name: "§3 fresh " + strconv.Itoa(s) + " with explicit freshness is reused", status: s,
				resp: h("Cache-Control", "max-age=100000", "Expires", at(100000), "Last-Modified", at(0)), advance: 10, reused: true},
			reuseCase{name: "§4.2 stale " + strconv.Itoa(s) + " is not reused", status: s,
				resp: h("Expires", at(-5000), "Last-Modified", at(-100000)), advance: 1},
		)
	}
	runReuse(t, cases)
}

// TestStoredHeaders checks which fields a stored response keeps (RFC 9111
// §3.1: all, including unrecognised ones, except connection-specific
// fields and those named by no-cache or private arguments).
func TestStoredHeaders(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.scripted(reply{header: h(
			"Cache-Control", `max-age=3600, no-cache="X-Nc1, X-Nc2"`,
			"Cache-Control", `private="X-Priv"`,
			"Connection", "X-Conn1, x-conn2",
			"X-Conn1", "1",
			"X-Conn2", "2",
			"Keep-Alive", "timeout=5",
			"Proxy-Connection", "keep-alive",
			"X-Nc1", "a",
			"X-Nc2", "b",
			"X-Priv", "secret",
			"Test-Header", "t",
			"X-Test-Header", "x",
			"Content-Foo", "cf",
			"Content-Type", "text/plain",
			"Content-Disposition", "attachment; filename=a.txt",
			"Set-Cookie", "a=b",
			"Set-Cookie", "c=d; Path=/",
			"Set-Cookie2", "a=b",
			"WWW-Authenticate", "Basic realm=x",
			"Strict-Transport-Security", "max-age=1",
			"X-Frame-Options", "deny",
			"Clear-Site-Data", `"cookies"`,
			"Link", "</a>; rel=preload",
		)})
		u := o.url("/hdr")
		e.get(u)
		r := e.get(u)
		if o.count() != 1 {
			t.Fatalf("origin saw %d requests, want 1 (Cache-Status %q)", o.count(), r.cs())
		}
		keep := map[string][]string{
			"Test-Header":               {"t"},
			"X-Test-Header":             {"x"},
			"Content-Foo":               {"cf"},
			"Content-Type":              {"text/plain"},
			"Content-Disposition":       {"attachment; filename=a.txt"},
			"Set-Cookie":                {"a=b", "c=d; Path=/"},
			"Set-Cookie2":               {"a=b"},
			"Www-Authenticate":          {"Basic realm=x"},
			"Strict-Transport-Security": {"max-age=1"},
			"X-Frame-Options":           {"deny"},
			"Clear-Site-Data":           {`"cookies"`},
			"Link":                      {"</a>; rel=preload"},
		}
		for k, want := range keep {
			if got := r.header.Values(k); !slices.Equal(got, want) {
				t.Errorf("§3.1 stored %s: %q, want %q", k, got, want)
			}
		}
		for _, k := range []string{"Connection", "X-Conn1", "X-Conn2", "Keep-Alive", "Proxy-Connection"} {
			if v := r.header.Values(k); len(v) > 0 {
				t.Errorf("§3.1 connection-specific %s served from the cache: %q", k, v)
			}
		}
		for _, k := range []string{"X-Nc1", "X-Nc2"} {
			if v := r.header.Values(k); len(v) > 0 {
				t.Errorf("§5.2.2.4 %s named by no-cache served without validation: %q", k, v)
			}
		}
		if v := r.header.Values("X-Priv"); len(v) > 0 {
			t.Errorf("§5.2.2.7 X-Priv named by private served by a shared cache: %q", v)
		}
	})
}

// TestTruncatedNotStored checks RFC 9111 §3.3: a response whose body
// ends before its framing says is incomplete and is not stored as
// complete; the client sees the failure.
func TestTruncatedNotStored(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		head string // response head, without the final CRLF
		body string
	}{
		{name: "§3.3 Content-Length longer than the body", head: "HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nContent-Length: 100", body: strings.Repeat("x", 50)},
		{name: "§3.3 chunked body without its last chunk", head: "HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nTransfer-Encoding: chunked", body: "32\r\n" + strings.Repeat("x", 50) + "\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
					if n > 1 {
						e.write(w, n, reply{header: h("Cache-Control", "max-age=3600")})
						return
					}
					conn, buf, err := http.NewResponseController(w).Hijack()
					if err != nil {
						t.Error(err)
						return
					}
					defer conn.Close()
					buf.WriteString(tc.head + "\r\nDate: " + httpDate(e.clock.Now()) + "\r\n\r\n" + tc.body)
					buf.Flush()
				})
				u := o.url("/trunc")
				r1 := e.try(newReq(http.MethodGet, u))
				if r1.err == nil && r1.status == http.StatusOK && len(r1.body) >= 50 {
					t.Errorf("client got a complete-looking response (%d bytes, no error) for a truncated one", len(r1.body))
				}
				r2 := e.get(u)
				if o.count() != 2 {
					t.Errorf("origin saw %d requests, want 2: the truncated response was stored (Cache-Status %q)", o.count(), r2.cs())
				}
				if r2.body != "body-2" {
					t.Errorf("request 2: body %q, want body-2", r2.body)
				}
				r3 := e.get(u)
				if o.count() != 2 || r3.body != "body-2" {
					t.Errorf("request 3: origin saw %d requests and body %q, want the complete body-2 from the cache", o.count(), r3.body)
				}
			})
		})
	}
}

// TestMaxObjectSize checks that a response larger than the configured
// maximum object size is forwarded whole but not stored.
func TestMaxObjectSize(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{CacheMaxObj: 10})
		big := strings.Repeat("b", 100)
		o := e.scripted(reply{header: h("Cache-Control", "max-age=3600"), body: big})
		u := o.url("/big")
		if r := e.get(u); r.body != big {
			t.Fatalf("body of %d bytes, want %d", len(r.body), len(big))
		}
		e.get(u)
		if o.count() != 2 {
			t.Errorf("origin saw %d requests, want 2: a response above the maximum object size was stored", o.count())
		}
	})
}

// TestCacheKey checks RFC 9111 §2: the primary key is the target URI,
// query included.
func TestCacheKey(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.scripted(reply{header: h("Cache-Control", "max-age=3600")})
		a := e.get(o.url("/q?test=1"))
		b := e.get(o.url("/q?test=2"))
		if o.count() != 2 || a.body == b.body {
			t.Errorf("§2 different query strings shared a stored response (origin saw %d requests)", o.count())
		}
		c := e.get(o.url("/q?test=1"))
		if o.count() != 2 || c.body != a.body {
			t.Errorf("§2 the same query string was not reused (origin saw %d requests, body %q, want %q)", o.count(), c.body, a.body)
		}
		d := e.get(o.url("/q"))
		if o.count() != 3 || d.body == a.body {
			t.Errorf("§2 a URI without query shared the response of one with a query (origin saw %d requests)", o.count())
		}
		// An absolute-form request with an upper-case scheme and host
		// names the same resource (RFC 9110 §4.2.3).
		host := strings.TrimPrefix(o.URL, "http://")
		conn := e.w.Dial()
		conn.Write([]byte("GET HTTP://" + strings.ToUpper(host) + "/q?test=1 HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if o.count() != 3 {
			t.Errorf("§2 upper-case scheme in the request target was a different key (origin saw %d requests)", o.count())
		}
	})
}

// TestHead checks that HEAD is answered from a stored GET response
// (RFC 9110 §9.3.2, RFC 9111 §4) and that a HEAD response, having no
// content, is not stored as one to GET.
func TestHead(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.scripted(reply{header: h("Cache-Control", "max-age=3600", "ETag", `"h"`), body: "0123456789"})
		u := o.url("/head")
		e.get(u)
		r := e.do(newReq(http.MethodHead, u))
		if o.count() != 1 {
			t.Errorf("HEAD after a stored GET reached the origin (%d requests)", o.count())
		}
		if r.status != http.StatusOK || r.body != "" {
			t.Errorf("HEAD: status %d, body %q; want 200 and no body", r.status, r.body)
		}
		if got := r.header.Get("Content-Length"); got != "10" {
			t.Errorf("HEAD: Content-Length %q, want 10, the stored GET's", got)
		}
		if got := r.header.Get("ETag"); got != `"h"` {
			t.Errorf("HEAD: ETag %q, want the stored GET's", got)
		}
		if !csHas(r.cs(), "hit") {
			t.Errorf("HEAD: Cache-Status %q, want a hit", r.cs())
		}

		u2 := o.url("/head-first")
		e.do(newReq(http.MethodHead, u2))
		g := e.get(u2)
		if o.count() != 3 {
			t.Errorf("GET after a HEAD miss: origin saw %d requests, want 3", o.count())
		}
		if g.body != "0123456789" {
			t.Errorf("GET after a HEAD miss: body %q", g.body)
		}
		if o.last().method != http.MethodGet {
			t.Errorf("GET after a HEAD miss reached the origin as %s", o.last().method)
		}
	})
}

// TestAuthorizationForwarded checks that Authorization reaches the origin
// when the cache forwards (RFC 9111 §3.5 concerns storing, not
// forwarding).
func TestAuthorizationForwarded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "mem", proxytest.Options{})
	o := e.scripted(reply{header: h("Cache-Control", "max-age=3600, public")})
	e.get(o.url("/auth"), "Authorization", "FOO")
	if got := o.last().header.Get("Authorization"); got != "FOO" {
		t.Errorf("origin got Authorization %q, want FOO", got)
	}
}

// TestBodies checks that stored bodies come back byte for byte: empty,
// large (several store chunks and copy buffers), and ranges inside a
// large one.
func TestBodies(t *testing.T) {
	t.Parallel()
	big := make([]byte, 3<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	cases := []struct {
		name string
		body string
	}{
		{name: "§3 empty body", body: ""},
		{name: "§3 3 MiB body", body: string(big)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				o := e.scripted(reply{header: h("Cache-Control", "max-age=3600"), body: tc.body, empty: tc.body == ""})
				u := o.url("/body")
				first := e.get(u)
				second := e.get(u)
				if o.count() != 1 {
					t.Fatalf("origin saw %d requests, want 1 (Cache-Status %q)", o.count(), second.cs())
				}
				if first.body != tc.body || second.body != tc.body {
					t.Errorf("bodies of %d and %d bytes, want %d identical", len(first.body), len(second.body), len(tc.body))
				}
				if got := second.header.Get("Content-Length"); got != strconv.Itoa(len(tc.body)) {
					t.Errorf("Content-Length %q, want %d", got, len(tc.body))
				}
				if len(tc.body) > 2<<20 {
					r := e.get(u, "Range", "bytes=2000000-2000099")
					if r.status != 206 || r.body != tc.body[2000000:2000100] {
						t.Errorf("range inside the body: status %d, %d bytes; want 206 and the right 100 bytes", r.status, len(r.body))
					}
				}
			})
		})
	}
}

// TestTooLargeForStore checks that a response the store refuses part-way
// (larger than its object limit, which the Content-Length check in front
// of it does not know) still reaches the client whole, and is not stored.
func TestTooLargeForStore(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("z", 640<<10)
	for _, length := range []string{"known", "chunked"} {
		t.Run("§3.3 "+length+" length", func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				// 1 MiB stores: objects up to 128 KiB (mem) or 256 KiB (disk).
				e := newEnvCap(t, kind, 1<<20, proxytest.Options{})
				o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Cache-Control", "max-age=3600")
					w.Header().Set("Date", httpDate(e.clock.Now()))
					if length == "known" {
						w.Header().Set("Content-Length", strconv.Itoa(len(body)))
					}
					w.WriteHeader(http.StatusOK)
					for i := 0; i < len(body); i += 64 << 10 {
						io.WriteString(w, body[i:i+64<<10])
						http.NewResponseController(w).Flush()
					}
				})
				u := o.url("/too-large")
				r := e.try(newReq(http.MethodGet, u))
				if r.err != nil || r.status != http.StatusOK || len(r.body) != len(body) {
					t.Fatalf("client got status %d, %d of %d bytes, err %v: the store's refusal cut the response", r.status, len(r.body), len(body), r.err)
				}
				e.get(u)
				if o.count() != 2 {
					t.Errorf("origin saw %d requests, want 2: an object above the store's limit was stored", o.count())
				}
			})
		})
	}
}
