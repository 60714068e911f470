package proxy_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/proxytest"
)

// policyTarget is a destination written the way a client might write it,
// and the deny range the proxy must name when it refuses it.
type policyTarget struct {
	host      string // as it appears in the URL, without the port
	wantRange string
}

// policyDenied are hosts in the production default deny set, including
// numeric spellings of loopback that a naive check would let through.
var policyDenied = []policyTarget{
	{"127.0.0.1", "127.0.0.0/8"},
	{"127.5.5.5", "127.0.0.0/8"},
	{"[::1]", "::1/128"},
	{"0.0.0.0", "0.0.0.0/8"},
	{"[::]", "::/128"},
	{"169.254.169.254", "169.254.0.0/16"},
	{"[fe80::1]", "fe80::/10"},
	{"[::ffff:127.0.0.1]", "127.0.0.0/8"},
	{"[::ffff:7f00:1]", "127.0.0.0/8"},
	{"[::127.0.0.1]", "127.0.0.0/8"},
	{"[64:ff9b::7f00:1]", "127.0.0.0/8"},
	{"2130706433", "127.0.0.0/8"},
	{"0x7f000001", "127.0.0.0/8"},
	{"0177.0.0.1", "127.0.0.0/8"},
	{"0x7f.0.0.1", "127.0.0.0/8"},
	{"127.1", "127.0.0.0/8"},
	{"127.0.0.1.", "127.0.0.0/8"},
}

// policyRequest sends a GET for http://hostport/ or a CONNECT to hostport
// on a new connection and returns the status and body.
func policyRequest(t *testing.T, w *proxytest.World, method, hostport string) (int, string) {
	t.Helper()
	if method == http.MethodConnect {
		return connectAsk(t, w, "CONNECT "+hostport+" HTTP/1.1\r\nHost: "+hostport+"\r\n\r\n", method)
	}
	return connectAsk(t, w, method+" http://"+hostport+"/ HTTP/1.1\r\nHost: "+hostport+"\r\n\r\n", method)
}

// policyCountingOrigin is an origin that counts the requests it serves.
func policyCountingOrigin(w *proxytest.World) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := w.Origin(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.WriteString(rw, "origin reached")
	}))
	return srv, &n
}

func TestPolicyDeniedDestinations(t *testing.T) {
	t.Parallel()
	for _, method := range []string{http.MethodGet, http.MethodConnect} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			ln, p := connectListen(t)
			port := strconv.Itoa(p)
			w := proxytest.New(t, proxytest.Options{DenyLoopback: true, ConnectPorts: []int{p}})
			// Runs when the parallel subtests below have finished.
			t.Cleanup(func() { connectNoAccept(t, ln) })
			for _, tc := range policyDenied {
				t.Run(tc.host, func(t *testing.T) {
					t.Parallel()
					status, body := policyRequest(t, w, method, tc.host+":"+port)
					if status != http.StatusForbidden {
						t.Errorf("got status %d, want 403 (body %q)", status, body)
					}
					for _, want := range []string{"Destination denied", "denied range " + tc.wantRange} {
						if !strings.Contains(body, want) {
							t.Errorf("got body %q, want it to contain %q", body, want)
						}
					}
				})
			}
		})
	}
}

func TestPolicyDNSRebinding(t *testing.T) {
	t.Parallel()
	resolver := proxytest.StaticResolver{
		"rebind.test": {netip.MustParseAddr("127.0.0.1")},
		// One public address first: checking only the first answer, or
		// dialing the first that works, is not enough.
		"mixed.test":  {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")},
		"mapped.test": {netip.MustParseAddr("::ffff:127.0.0.1")},
	}
	ln, p := connectListen(t)
	port := strconv.Itoa(p)
	w := proxytest.New(t, proxytest.Options{DenyLoopback: true, ConnectPorts: []int{p}, Resolver: resolver})
	// Runs when the parallel subtests below have finished.
	t.Cleanup(func() { connectNoAccept(t, ln) })
	for _, method := range []string{http.MethodGet, http.MethodConnect} {
		for _, host := range []string{"rebind.test", "mixed.test", "mapped.test"} {
			t.Run(method+" "+host, func(t *testing.T) {
				t.Parallel()
				status, body := policyRequest(t, w, method, host+":"+port)
				if status != http.StatusForbidden {
					t.Errorf("got status %d, want 403 (body %q)", status, body)
				}
				for _, want := range []string{"denied range 127.0.0.0/8", strconv.Quote(host)} {
					if !strings.Contains(body, want) {
						t.Errorf("got body %q, want it to contain %q", body, want)
					}
				}
			})
		}
	}
}

func TestPolicyUnresolvableName(t *testing.T) {
	t.Parallel()
	w := proxytest.New(t, proxytest.Options{DenyLoopback: true, ConnectPorts: []int{8443}, Resolver: proxytest.StaticResolver{}})
	for _, tc := range []struct{ method, hostport string }{
		{http.MethodGet, "nowhere.test"},
		{http.MethodGet, "nowhere.test:8080"},
		{http.MethodConnect, "nowhere.test:8443"},
	} {
		t.Run(tc.method+" "+tc.hostport, func(t *testing.T) {
			status, body := policyRequest(t, w, tc.method, tc.hostport)
			if status != http.StatusBadGateway {
				t.Errorf("got status %d, want 502 (body %q)", status, body)
			}
			for _, want := range []string{`"nowhere.test"`, "no such host"} {
				if !strings.Contains(body, want) {
					t.Errorf("got body %q, want it to contain %q", body, want)
				}
			}
		})
	}
}

// TestPolicyAllowDestExemption: the fixture's default exempts loopback, so
// every spelling of 127.0.0.1 reaches the origin; the rest of the deny set
// still applies.
func TestPolicyAllowDestExemption(t *testing.T) {
	t.Parallel()
	w := proxytest.New(t, proxytest.Options{})
	origin, served := policyCountingOrigin(w)
	port := origin.Listener.Addr().(*net.TCPAddr).Port
	for _, host := range []string{"127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]"} {
		t.Run(host, func(t *testing.T) {
			before := served.Load()
			status, body := policyRequest(t, w, http.MethodGet, host+":"+strconv.Itoa(port))
			if status != http.StatusOK || body != "origin reached" {
				t.Errorf("got %d %q, want 200 %q", status, body, "origin reached")
			}
			if got := served.Load() - before; got != 1 {
				t.Errorf("origin served %d requests, want 1", got)
			}
		})
	}
	for _, host := range []string{"0.0.0.0", "169.254.169.254", "[fe80::1]"} {
		t.Run(host, func(t *testing.T) {
			status, body := policyRequest(t, w, http.MethodGet, host+":"+strconv.Itoa(port))
			if status != http.StatusForbidden {
				t.Errorf("got status %d, want 403 (body %q)", status, body)
			}
		})
	}
}

func TestPolicyForwardedFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode       string
		sent       http.Header // what the client sends
		wantXFF    string      // what the origin sees, comma-joined
		wantFwd    string
		wantAbsent []string
	}{
		{mode: "", wantXFF: "", wantFwd: ""},
		{mode: "off", wantXFF: "", wantFwd: ""},
		{mode: "", sent: http.Header{"X-Forwarded-For": {"192.0.2.7"}}, wantXFF: "192.0.2.7"},
		{mode: "add", wantXFF: "127.0.0.1"},
		{mode: "add", sent: http.Header{"X-Forwarded-For": {"192.0.2.7"}}, wantXFF: "192.0.2.7, 127.0.0.1"},
		{mode: "forwarded", wantFwd: "for=127.0.0.1"},
		{mode: "forwarded", sent: http.Header{"Forwarded": {"for=192.0.2.7"}}, wantFwd: "for=192.0.2.7, for=127.0.0.1"},
		{mode: "delete", sent: http.Header{"X-Forwarded-For": {"192.0.2.7"}, "Forwarded": {"for=192.0.2.7"}}},
	} {
		name := tc.mode
		if name == "" {
			name = "default"
		}
		if len(tc.sent) > 0 {
			name += " with client headers"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := proxytest.New(t, proxytest.Options{ForwardedFor: tc.mode})
			origin := w.Origin(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("X-Saw-XFF", strings.Join(r.Header.Values("X-Forwarded-For"), ", "))
				rw.Header().Set("X-Saw-Forwarded", strings.Join(r.Header.Values("Forwarded"), ", "))
				rw.Header().Set("X-Saw-Real-IP", r.Header.Get("X-Real-Ip"))
			}))
			req, _ := http.NewRequest(http.MethodGet, origin.URL+"/", nil)
			for k, vv := range tc.sent {
				req.Header[k] = vv
			}
			resp, err := w.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("X-Saw-XFF"); got != tc.wantXFF {
				t.Errorf("origin got X-Forwarded-For %q, want %q", got, tc.wantXFF)
			}
			if got := resp.Header.Get("X-Saw-Forwarded"); got != tc.wantFwd {
				t.Errorf("origin got Forwarded %q, want %q", got, tc.wantFwd)
			}
			if got := resp.Header.Get("X-Saw-Real-IP"); got != "" {
				t.Errorf("origin got X-Real-IP %q, want none", got)
			}
		})
	}
}

// TestPolicyClientACL: a client outside AllowClients is refused at accept,
// before its request is parsed or forwarded. The destination is reachable
// (loopback exempted), so only the ACL can produce the 403.
func TestPolicyClientACL(t *testing.T) {
	t.Parallel()
	w := proxytest.New(t, proxytest.Options{AllowClients: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	origin, served := policyCountingOrigin(w)
	host := strings.TrimPrefix(origin.URL, "http://")

	c := w.Dial()
	io.WriteString(c, "GET http://"+host+"/secret HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("got status %q, want 403", resp.Status)
	}
	if want := "does not accept clients from your address"; !strings.Contains(string(body), want) {
		t.Errorf("got body %q, want it to contain %q", body, want)
	}
	// The proxy closes the connection after its answer.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
		t.Errorf("after the 403: got %q, %v; want EOF", rest, err)
	}
	c.Close() // the refusal is logged once the client has gone

	if n := served.Load(); n != 0 {
		t.Errorf("origin served %d requests, want 0", n)
	}
	recs := w.Records(1)
	if len(recs) != 1 {
		t.Fatalf("got %d access-log records, want 1: %+v", len(recs), recs)
	}
	rec := recs[0]
	if rec.Status != http.StatusForbidden || rec.Result != "TCP_DENIED" {
		t.Errorf("got record status %d result %q, want 403 %q", rec.Status, rec.Result, "TCP_DENIED")
	}
	if got, want := rec.URL, "http://"+host+"/secret"; got != want {
		t.Errorf("got record URL %q, want %q", got, want)
	}
	if got, want := rec.Method, http.MethodGet; got != want {
		t.Errorf("got record method %q, want %q", got, want)
	}
}
