package dial

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// stubResolver answers from a fixed table and counts lookups. Names not in
// the table are not found, as real DNS would say.
type stubResolver struct {
	hosts   map[string][]netip.Addr
	err     error // if set, returned for every lookup
	lookups atomic.Int32
}

func (r *stubResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.lookups.Add(1)
	if r.err != nil {
		return nil, r.err
	}
	addrs, ok := r.hosts[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, Server: "192.0.2.53:53", IsNotFound: true}
	}
	return addrs, nil
}

// origin is a real TCP listener on 127.0.0.1 standing in for an origin
// server, plus the port number the tests dial.
type origin struct {
	ln   *net.TCPListener
	port string
}

func newOrigin(t *testing.T) *origin {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &origin{ln: ln, port: strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}
}

// accept returns the next connection the kernel has completed, waiting
// up to 5s: a connect that succeeded has been queued before DialContext
// returned, and only a slow machine makes Accept take long to see it.
func (o *origin) accept(t *testing.T) (net.Conn, error) {
	t.Helper()
	return o.acceptWithin(t, 5*time.Second)
}

func (o *origin) acceptWithin(t *testing.T, d time.Duration) (net.Conn, error) {
	t.Helper()
	o.ln.SetDeadline(time.Now().Add(d))
	c, err := o.ln.Accept()
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// expectNoAccept fails the test if anything connected to the origin. A
// connect that succeeded would be queued already, so a short wait is
// enough to tell "connected" from "never connected".
func (o *origin) expectNoAccept(t *testing.T) {
	t.Helper()
	c, err := o.acceptWithin(t, 200*time.Millisecond)
	if err == nil {
		t.Fatalf("origin accepted a connection from %v, want none", c.RemoteAddr())
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("accept: got %v, want a deadline error", err)
	}
}

func allowLoopback() *Policy {
	return NewPolicy([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
}

func TestDialDeniedByDefault(t *testing.T) {
	t.Parallel()
	o := newOrigin(t)
	for _, host := range []string{"127.0.0.1", "0x7f000001", "127.1", "2130706433", "0177.0.0.1"} {
		t.Run(host, func(t *testing.T) {
			d := &Dialer{Resolver: &stubResolver{}}
			c, err := d.DialContext(t.Context(), "tcp", net.JoinHostPort(host, o.port))
			if err == nil {
				c.Close()
				t.Fatal("got a connection, want a denial")
			}
			var denied *DeniedError
			if !errors.As(err, &denied) {
				t.Fatalf("got %v, want *DeniedError", err)
			}
			if denied.Host != host {
				t.Errorf("Host: got %q, want %q", denied.Host, host)
			}
			if want := netip.MustParseAddr("127.0.0.1"); denied.Addr != want {
				t.Errorf("Addr: got %v, want %v", denied.Addr, want)
			}
		})
	}
	o.expectNoAccept(t)
}

func TestDialAllowed(t *testing.T) {
	t.Parallel()
	o := newOrigin(t)
	d := &Dialer{Policy: allowLoopback()}
	c, err := d.DialContext(t.Context(), "tcp", net.JoinHostPort("127.0.0.1", o.port))
	if err != nil {
		t.Fatalf("got %v, want a connection", err)
	}
	defer c.Close()
	if _, ok := c.(*net.TCPConn); !ok {
		t.Errorf("conn type: got %T, want *net.TCPConn", c)
	}
	s, err := o.accept(t)
	if err != nil {
		t.Fatalf("origin accept: got %v, want the dialed connection", err)
	}
	if got, want := s.RemoteAddr().String(), c.LocalAddr().String(); got != want {
		t.Errorf("origin saw: got %v, want %v", got, want)
	}
}

func TestDialNameResolvingIntoDenySet(t *testing.T) {
	t.Parallel()
	public := netip.MustParseAddr("203.0.113.7")
	loopback := netip.MustParseAddr("127.0.0.1")
	for _, tt := range []struct {
		name  string
		addrs []netip.Addr
	}{
		{"public first", []netip.Addr{public, loopback}},
		{"loopback first", []netip.Addr{loopback, public}},
		{"mapped", []netip.Addr{public, netip.MustParseAddr("::ffff:127.0.0.1")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t)
			r := &stubResolver{hosts: map[string][]netip.Addr{"rebind.test": tt.addrs}}
			// A short timeout keeps a broken implementation that dials the
			// unroutable public address first from stalling the test.
			d := &Dialer{Resolver: r, Timeout: 200 * time.Millisecond}
			c, err := d.DialContext(t.Context(), "tcp", net.JoinHostPort("rebind.test", o.port))
			if err == nil {
				c.Close()
				t.Fatal("got a connection, want a denial")
			}
			var denied *DeniedError
			if !errors.As(err, &denied) {
				t.Fatalf("got %v, want *DeniedError", err)
			}
			if denied.Host != "rebind.test" || denied.Addr != loopback {
				t.Errorf("got host %q addr %v, want host %q addr %v", denied.Host, denied.Addr, "rebind.test", loopback)
			}
			if got := r.lookups.Load(); got != 1 {
				t.Errorf("lookups: got %d, want 1", got)
			}
			o.expectNoAccept(t)
		})
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	r := &stubResolver{hosts: map[string][]netip.Addr{
		"example.test": {netip.MustParseAddr("::ffff:192.0.2.1"), netip.MustParseAddr("2001:db8::1")},
		"zoned.test":   {netip.MustParseAddr("2001:db8::2%eth0")},
		"empty.test":   {},
		"meta.test":    {netip.MustParseAddr("64:ff9b::a9fe:a9fe")},
	}}
	d := &Dialer{Resolver: r}
	for _, tt := range []struct {
		host    string
		want    []string
		wantErr string // "denied" or "resolve"
	}{
		{host: "example.test", want: []string{"192.0.2.1", "2001:db8::1"}},
		{host: "zoned.test", want: []string{"2001:db8::2"}},
		{host: "192.0.2.9", want: []string{"192.0.2.9"}},
		{host: "[2001:db8::9]", want: []string{"2001:db8::9"}},
		{host: "0xc0000209", want: []string{"192.0.2.9"}},
		{host: "meta.test", wantErr: "denied"},
		{host: "[::1]", wantErr: "denied"},
		{host: "missing.test", wantErr: "resolve"},
		{host: "empty.test", wantErr: "resolve"},
		{host: "256.1.1.1", wantErr: "resolve"},
		{host: "", wantErr: "resolve"},
	} {
		t.Run(tt.host, func(t *testing.T) {
			addrs, err := d.Resolve(t.Context(), tt.host)
			var denied *DeniedError
			var resolveErr *ResolveError
			switch tt.wantErr {
			case "":
				if err != nil {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
				var got []string
				for _, a := range addrs {
					got = append(got, a.String())
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Fatalf("got %v, want %v", got, tt.want)
					}
				}
			case "denied":
				if !errors.As(err, &denied) || denied.Host != tt.host {
					t.Fatalf("got %v, want *DeniedError for %q", err, tt.host)
				}
			case "resolve":
				if !errors.As(err, &resolveErr) || resolveErr.Host != tt.host {
					t.Fatalf("got %v, want *ResolveError for %q", err, tt.host)
				}
			}
			if err != nil && addrs != nil {
				t.Errorf("addresses alongside an error: got %v, want nil", addrs)
			}
		})
	}
}

func TestResolveLocalhost(t *testing.T) {
	t.Parallel()
	// The real resolver, through /etc/hosts: whatever localhost is, it is
	// denied.
	_, err := (&Dialer{}).Resolve(t.Context(), "localhost")
	var resolveErr *ResolveError
	if errors.As(err, &resolveErr) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("localhost does not resolve on a CI machine: %v", err)
		}
		t.Skipf("this host cannot resolve localhost: %v", err)
	}
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("got %v, want a denial", err)
	}
}

func TestDialLookupFailure(t *testing.T) {
	t.Parallel()
	d := &Dialer{Resolver: &stubResolver{}}
	_, err := d.DialContext(t.Context(), "tcp", "missing.test:80")
	var resolveErr *ResolveError
	if !errors.As(err, &resolveErr) {
		t.Fatalf("got %v, want *ResolveError", err)
	}
	if resolveErr.Timeout() {
		t.Errorf("Timeout(): got true, want false")
	}
	// The resolver's own address is internal; the user is told what failed.
	if got, want := err.Error(), `cannot resolve "missing.test": no such host`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDialLookupTimeout(t *testing.T) {
	t.Parallel()
	r := &stubResolver{err: &net.DNSError{Err: "i/o timeout", Name: "slow.test", Server: "192.0.2.53:53", IsTimeout: true}}
	d := &Dialer{Resolver: r}
	_, err := d.DialContext(t.Context(), "tcp", "slow.test:80")
	var resolveErr *ResolveError
	if !errors.As(err, &resolveErr) {
		t.Fatalf("got %v, want *ResolveError", err)
	}
	if !resolveErr.Timeout() {
		t.Errorf("Timeout(): got false, want true")
	}
	if got, want := err.Error(), `cannot resolve "slow.test": lookup timed out`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDialRefused(t *testing.T) {
	t.Parallel()
	o := newOrigin(t)
	port := o.port
	o.ln.Close() // nothing listens on port now
	d := &Dialer{Policy: allowLoopback()}
	c, err := d.DialContext(t.Context(), "tcp", net.JoinHostPort("127.0.0.1", port))
	if err == nil {
		c.Close()
		t.Fatal("got a connection, want refused")
	}
	var dialErr *DialError
	if !errors.As(err, &dialErr) {
		t.Fatalf("got %v, want *DialError", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("errors.Is(%v, ECONNREFUSED): got false, want true", err)
	}
	if dialErr.Timeout() {
		t.Errorf("Timeout(): got true, want false")
	}
	if got, want := err.Error(), "connect to 127.0.0.1:"+port+": connection refused"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDialFallsBackToNextAddress(t *testing.T) {
	t.Parallel()
	o := newOrigin(t)
	// The origin listens on 127.0.0.1 only, so 127.0.0.2 on the same port
	// refuses (or, where 127.0.0.2 is not configured, fails some other way).
	r := &stubResolver{hosts: map[string][]netip.Addr{"two.test": {
		netip.MustParseAddr("127.0.0.2"),
		netip.MustParseAddr("127.0.0.1"),
	}}}
	d := &Dialer{Policy: allowLoopback(), Resolver: r, Timeout: time.Second}
	c, err := d.DialContext(t.Context(), "tcp", net.JoinHostPort("two.test", o.port))
	if err != nil {
		t.Fatalf("got %v, want a connection", err)
	}
	defer c.Close()
	if got, want := c.RemoteAddr().String(), net.JoinHostPort("127.0.0.1", o.port); got != want {
		t.Errorf("connected to: got %v, want %v", got, want)
	}
	if _, err := o.accept(t); err != nil {
		t.Errorf("origin accept: got %v, want the dialed connection", err)
	}
}

func TestDialExpiredContext(t *testing.T) {
	t.Parallel()
	o := newOrigin(t)
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	d := &Dialer{Policy: allowLoopback()}
	_, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", o.port))
	var dialErr *DialError
	if !errors.As(err, &dialErr) {
		t.Fatalf("got %v, want *DialError", err)
	}
	if !dialErr.Timeout() {
		t.Errorf("Timeout(): got false, want true")
	}
	o.expectNoAccept(t)
}

func TestDialNetworkFamily(t *testing.T) {
	t.Parallel()
	o := newOrigin(t)
	r := &stubResolver{hosts: map[string][]netip.Addr{"dual.test": {
		netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("127.0.0.1"),
	}}}
	d := &Dialer{Policy: allowLoopback(), Resolver: r, Timeout: time.Second}
	c, err := d.DialContext(t.Context(), "tcp4", net.JoinHostPort("dual.test", o.port))
	if err != nil {
		t.Fatalf("tcp4: got %v, want a connection to 127.0.0.1", err)
	}
	c.Close()

	r = &stubResolver{hosts: map[string][]netip.Addr{"v4only.test": {netip.MustParseAddr("127.0.0.1")}}}
	d = &Dialer{Policy: allowLoopback(), Resolver: r}
	_, err = d.DialContext(t.Context(), "tcp6", net.JoinHostPort("v4only.test", o.port))
	var resolveErr *ResolveError
	if !errors.As(err, &resolveErr) {
		t.Fatalf("tcp6: got %v, want *ResolveError", err)
	}
	if got, want := err.Error(), `cannot resolve "v4only.test": no IPv6 address`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDialBadAddress(t *testing.T) {
	t.Parallel()
	r := &stubResolver{}
	d := &Dialer{Resolver: r}
	for _, tt := range []struct{ network, address string }{
		{"tcp", "example.test:0"},
		{"tcp", "example.test:65536"},
		{"tcp", "example.test:-1"},
		{"tcp", "example.test:http"},
		{"tcp", "example.test:"},
		{"tcp", "example.test"},
		{"tcp", "[::1"},
		{"udp", "example.test:53"},
		{"unix", "/tmp/sock"},
	} {
		_, err := d.DialContext(t.Context(), tt.network, tt.address)
		if err == nil {
			t.Errorf("DialContext(%q, %q): got nil error, want one", tt.network, tt.address)
			continue
		}
		var denied *DeniedError
		var resolveErr *ResolveError
		var dialErr *DialError
		if errors.As(err, &denied) || errors.As(err, &resolveErr) || errors.As(err, &dialErr) {
			t.Errorf("DialContext(%q, %q): got %T, want a plain error", tt.network, tt.address, err)
		}
	}
	if got := r.lookups.Load(); got != 0 {
		t.Errorf("lookups: got %d, want 0", got)
	}
}

func TestErrorMessages(t *testing.T) {
	addr := netip.MustParseAddrPort("192.0.2.1:80")
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	timedOut := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	tests := []struct {
		err         error
		want        string
		wantTimeout bool
	}{
		{&DialError{Host: "example.test", Addr: addr, Err: refused}, "connect to example.test (192.0.2.1:80): connection refused", false},
		{&DialError{Host: "192.0.2.1", Addr: addr, Err: refused}, "connect to 192.0.2.1:80: connection refused", false},
		{&DialError{Host: "example.test", Addr: addr, Err: timedOut}, "connect to example.test (192.0.2.1:80): timed out", true},
		{&DialError{Host: "example.test", Addr: addr, Err: context.Canceled}, "connect to example.test (192.0.2.1:80): canceled", false},
		{&ResolveError{Host: "example.test", Err: &net.DNSError{Err: "server misbehaving", Name: "example.test", Server: "10.0.0.53:53"}}, `cannot resolve "example.test": server misbehaving`, false},
		{&ResolveError{Host: "example.test", Err: context.DeadlineExceeded}, `cannot resolve "example.test": lookup timed out`, true},
		{&ResolveError{Host: "example.test", Err: context.Canceled}, `cannot resolve "example.test": lookup canceled`, false},
		{&ResolveError{Host: "256.0.0.1", Err: &numericError{host: "256.0.0.1", reason: `part "256" is out of range`}}, `cannot resolve "256.0.0.1": invalid IP literal: part "256" is out of range`, false},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
		var timeout interface{ Timeout() bool }
		if !errors.As(tt.err, &timeout) {
			t.Fatalf("%T has no Timeout method", tt.err)
		}
		if got := timeout.Timeout(); got != tt.wantTimeout {
			t.Errorf("%q Timeout(): got %v, want %v", tt.want, got, tt.wantTimeout)
		}
	}
}

// TestWithCheck: a per-request check attached to the context denies what
// the policy allows, at dial time (so DNS changing its answer after the
// proxy's first look changes nothing) and for a pooled connection's peer.
func TestWithCheck(t *testing.T) {
	t.Parallel()
	o := newOrigin(t)
	r := &stubResolver{hosts: map[string][]netip.Addr{"intranet.test": {netip.MustParseAddr("127.0.0.1")}}}
	d := &Dialer{Policy: allowLoopback(), Resolver: r}
	deny127 := func(a netip.Addr) error {
		if netip.MustParsePrefix("127.0.0.0/8").Contains(a) {
			return &DeniedError{Addr: a, Rule: "access.rules[0]"}
		}
		return nil
	}
	ctx := WithCheck(t.Context(), deny127)

	c, err := d.DialContext(t.Context(), "tcp", net.JoinHostPort("intranet.test", o.port))
	if err != nil {
		t.Fatalf("without the check: %v", err)
	}
	c.Close()
	if _, err := o.accept(t); err != nil {
		t.Fatal(err)
	}

	c, err = d.DialContext(ctx, "tcp", net.JoinHostPort("intranet.test", o.port))
	if err == nil {
		c.Close()
		t.Fatal("dialed what the check denies")
	}
	var denied *DeniedError
	if !errors.As(err, &denied) || denied.Rule != "access.rules[0]" || denied.Host != "intranet.test" {
		t.Fatalf("got %v, want a denial by access.rules[0] for intranet.test", err)
	}
	if want := `destination 127.0.0.1 is denied by access.rules[0] (host "intranet.test")`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	o.expectNoAccept(t)

	peer := &net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 80}
	if err := ReuseCheck(ctx, peer); !errors.As(err, &denied) {
		t.Errorf("ReuseCheck of a denied peer: %v", err)
	}
	if err := ReuseCheck(t.Context(), peer); err != nil {
		t.Errorf("ReuseCheck without a check: %v", err)
	}
	if err := ReuseCheck(ctx, &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 80}); err != nil {
		t.Errorf("ReuseCheck of an allowed peer: %v", err)
	}
}

// TestObserve: every connection attempt is reported with its outcome;
// a denial makes no attempt and reports nothing.
func TestObserve(t *testing.T) {
	t.Parallel()
	o := newOrigin(t)
	var got []error
	d := &Dialer{Policy: allowLoopback(), Observe: func(_ time.Duration, err error) { got = append(got, err) }}
	c, err := d.DialContext(t.Context(), "tcp", net.JoinHostPort("127.0.0.1", o.port))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	o.ln.Close()
	if _, err := d.DialContext(t.Context(), "tcp", net.JoinHostPort("127.0.0.1", o.port)); err == nil {
		t.Fatal("dialed a closed port")
	}
	deny := &Dialer{Observe: func(_ time.Duration, err error) { got = append(got, err) }}
	if _, err := deny.DialContext(t.Context(), "tcp", net.JoinHostPort("127.0.0.1", o.port)); !errors.Is(err, ErrDenied) {
		t.Fatalf("loopback without exemption: %v", err)
	}
	if len(got) != 2 || got[0] != nil || got[1] == nil {
		t.Fatalf("observed %v, want a success then a failure", got)
	}
}
