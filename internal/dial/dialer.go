package dial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"sluice/internal/sockopt"
)

// Resolver is the part of *net.Resolver that Dialer uses. Tests substitute a
// fake that returns chosen addresses: real DNS cannot be made to answer
// 127.0.0.1 for evil.example.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ Resolver = (*net.Resolver)(nil)

// Dialer dials origins after checking the destination policy. Zero-value
// fields take defaults. A Dialer is safe for concurrent use as long as its
// fields are not changed while it is in use.
type Dialer struct {
	Policy    *Policy       // nil means NewPolicy(nil)
	Resolver  Resolver      // nil means net.DefaultResolver
	Timeout   time.Duration // connect timeout per attempt; 0 means 10s
	KeepAlive time.Duration // TCP keep-alive period; 0 means 30s, negative disables
	// Observe, if set, is told how long each TCP connection attempt took
	// and how it ended (metrics). Denied destinations and failed lookups
	// make no attempt and are not reported.
	Observe func(d time.Duration, err error)
}

// Resolve returns the addresses host stands for, every one checked against
// the policy. Numeric hosts (any ParseNumericHost form) are not looked up. If
// any resolved address is denied the whole host is denied, since a name that
// points into the deny set is hostile; the error is a *DeniedError with Host
// set. Lookup failures (no such host, no addresses, resolver timeout, an
// invalid numeric host) return a *ResolveError.
//
// The addresses returned are unmapped and carry no zone: they are exactly
// what was checked, and the only addresses DialContext will dial.
func (d *Dialer) Resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	return d.resolve(ctx, "ip", host)
}

// resolve is Resolve restricted to one address family; network is "ip",
// "ip4" or "ip6". The family filter runs after the check, so a name is
// denied for an address in the deny set even if that address is of the
// other family.
func (d *Dialer) resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addr, numeric, err := ParseNumericHost(host)
	if err != nil {
		return nil, &ResolveError{Host: host, Err: err}
	}
	var found []netip.Addr
	if numeric {
		found = []netip.Addr{addr}
	} else {
		r := d.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		found, err = r.LookupNetIP(ctx, network, host)
		if err != nil {
			return nil, &ResolveError{Host: host, Err: err}
		}
	}

	policy := d.Policy
	if policy == nil {
		policy = NewPolicy(nil)
	}
	extra := checkFrom(ctx)
	addrs := make([]netip.Addr, 0, len(found))
	for _, a := range found {
		a = a.Unmap().WithZone("")
		err := policy.Check(a)
		if err == nil && extra != nil {
			err = extra(a)
		}
		if err != nil {
			var denied *DeniedError
			if errors.As(err, &denied) {
				denied.Host = host
			}
			return nil, err
		}
		if network == "ip4" && !a.Is4() || network == "ip6" && !a.Is6() {
			continue
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return nil, &ResolveError{Host: host, Err: errNoAddress(network)}
	}
	return addrs, nil
}

// DialContext has net.Dialer.DialContext's signature. The network must be
// "tcp", "tcp4" or "tcp6" and address "host:port" with a numeric port. It
// calls Resolve once, then dials the checked addresses in order until one
// connects, each attempt bounded by Timeout and ctx. The connection is the
// *net.TCPConn itself, unwrapped, so callers can splice it.
//
// Errors are a *DeniedError, a *ResolveError or a *DialError (the first
// attempt's, when every attempt fails); a bad network, address or port gives
// a plain error.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var family string
	switch network {
	case "tcp":
		family = "ip"
	case "tcp4":
		family = "ip4"
	case "tcp6":
		family = "ip6"
	default:
		return nil, fmt.Errorf("dial %s: unsupported network %q", address, network)
	}
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		reason := err.Error()
		if ae, ok := err.(*net.AddrError); ok {
			reason = ae.Err
		}
		return nil, fmt.Errorf("invalid address %q: %s", address, reason)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("invalid port %q in address %q", portText, address)
	}

	addrs, err := d.resolve(ctx, family, host)
	if err != nil {
		return nil, err
	}

	nd := net.Dialer{Timeout: d.Timeout, KeepAlive: d.KeepAlive, Control: sockopt.Control}
	if nd.Timeout == 0 {
		nd.Timeout = 10 * time.Second
	}
	if nd.KeepAlive == 0 {
		nd.KeepAlive = 30 * time.Second
	}
	var first error
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a, uint16(port))
		// ap is an IP literal, so net.Dialer does no lookup of its own: what
		// is dialed is what was checked.
		start := time.Now()
		c, err := nd.DialContext(ctx, network, ap.String())
		if d.Observe != nil {
			d.Observe(time.Since(start), err)
		}
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = &DialError{Host: host, Addr: ap, Err: err}
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

func errNoAddress(network string) error {
	switch network {
	case "ip4":
		return errors.New("no IPv4 address")
	case "ip6":
		return errors.New("no IPv6 address")
	}
	return errors.New("no addresses")
}

// ResolveError reports that a host could not be turned into addresses.
type ResolveError struct {
	Host string
	Err  error
}

func (e *ResolveError) Error() string {
	return fmt.Sprintf("cannot resolve %q: %s", e.Host, resolveCause(e.Err))
}

func (e *ResolveError) Unwrap() error { return e.Err }

// Timeout reports whether the lookup failed by timing out.
func (e *ResolveError) Timeout() bool { return isTimeout(e.Err) }

// resolveCause says what went wrong without the resolver's own address,
// which *net.DNSError includes and a user has no use for.
func resolveCause(err error) string {
	var dnsErr *net.DNSError
	var numErr *numericError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "no such host"
	case isTimeout(err):
		return "lookup timed out"
	case errors.Is(err, context.Canceled):
		return "lookup canceled"
	case errors.As(err, &dnsErr):
		return dnsErr.Err
	case errors.As(err, &numErr):
		return "invalid IP literal: " + numErr.reason
	}
	return err.Error()
}

// DialError reports that a checked address did not accept a connection.
type DialError struct {
	Host string         // the host the client asked for
	Addr netip.AddrPort // the address that was dialed
	Err  error
}

func (e *DialError) Error() string {
	if e.Host == "" || e.Host == e.Addr.Addr().String() {
		return fmt.Sprintf("connect to %s: %s", e.Addr, dialCause(e.Err))
	}
	return fmt.Sprintf("connect to %s (%s): %s", e.Host, e.Addr, dialCause(e.Err))
}

func (e *DialError) Unwrap() error { return e.Err }

// Timeout reports whether the connect timed out (Dialer.Timeout, the
// context's deadline, or the kernel giving up).
func (e *DialError) Timeout() bool { return isTimeout(e.Err) }

// dialCause gives the innermost reason ("connection refused") rather than
// net.OpError's "dial tcp 1.2.3.4:80: connect: connection refused", which
// repeats what DialError already says.
func dialCause(err error) string {
	var sysErr *os.SyscallError
	var opErr *net.OpError
	switch {
	case isTimeout(err):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &sysErr):
		return sysErr.Err.Error()
	case errors.As(err, &opErr):
		return opErr.Err.Error()
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

type checkKey struct{}

// WithCheck returns a context under which Resolve and DialContext also run
// check on every address, after the policy: the proxy passes the access
// rules of one request this way, so that the addresses dialed are the ones
// those rules allowed even if DNS answers differently at dial time. check
// returns nil to allow, else an error (a *DeniedError, ideally) that
// Resolve returns with its Host filled in.
func WithCheck(ctx context.Context, check func(netip.Addr) error) context.Context {
	return context.WithValue(ctx, checkKey{}, check)
}

// CheckFrom returns the check WithCheck attached to ctx, or nil.
func CheckFrom(ctx context.Context) func(netip.Addr) error { return checkFrom(ctx) }

func checkFrom(ctx context.Context) func(netip.Addr) error {
	f, _ := ctx.Value(checkKey{}).(func(netip.Addr) error)
	return f
}

// ReuseCheck runs the check WithCheck attached to ctx, if any, on the peer
// of an already open connection (upstream.Transport.ReuseCheck), so that a
// pooled connection is reused only where a new one could be dialed.
func ReuseCheck(ctx context.Context, remote net.Addr) error {
	check := checkFrom(ctx)
	if check == nil {
		return nil
	}
	ta, ok := remote.(*net.TCPAddr)
	if !ok {
		return nil
	}
	return check(ta.AddrPort().Addr().Unmap().WithZone(""))
}
