// Package access decides which requests the proxy serves, from an ordered
// list of allow and deny rules over who asks (user name, client address)
// and what they ask for (method, host, port, destination address).
//
// The model is Squid's http_access, made explicit: the rules are tried in
// order and the first one whose conditions all hold decides; when none
// holds, a default decides. A condition lists values, any one of which may
// match; a rule holds when every condition it gives matches, and an omitted
// condition matches everything, so a rule with no conditions matches every
// request. Order is the only precedence: a narrower rule after a broader
// one never applies to what the broader one matched.
//
// Destination addresses are known only after DNS, so a request is decided
// in two phases. Decide looks at everything except the Dest conditions; its
// Decision is final unless an earlier rule with a Dest condition, one that
// matched on everything else, has the opposite verdict, which NeedAddrs
// reports. The caller then resolves the host (for an IP literal, parses
// it) and asks CheckAddr about every address, refusing the request if any
// address is denied. An address is compared unmapped and, when it is an
// IPv4-compatible, NAT64 (64:ff9b::/96) or 6to4 IPv6 address, also as the
// IPv4 address it carries: the forms internal/dial's Policy sees through.
//
// A List is immutable after Compile and safe for concurrent use; a nil List
// allows everything. Decide takes about 100 ns for a hand-written list and
// stays there for hundreds of host patterns, which it looks up in an index
// rather than trying one by one; CheckAddr takes tens of nanoseconds.
// Neither allocates for a request internal/server accepted.
//
// The package deliberately does not resolve names, dial, authenticate users
// or read configuration: the proxy passes the authenticated user name in
// and resolves through internal/dial, whose built-in policy (no loopback,
// no link-local, …) still applies to what these rules allow. There is no
// negation ("not private"): an earlier rule of the opposite verdict says
// the same thing.
package access

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Rule is one allow or deny rule as written in the configuration. Every
// condition lists values of which any one may match; an empty condition
// matches every request.
type Rule struct {
	// Allow is the verdict when the rule matches: true allows, false denies.
	Allow bool

	// Users are authenticated user names, compared exactly (user names are
	// case-sensitive, as in htpasswd files). "*" is any authenticated user;
	// "-" is a request without an authenticated user, the name the access
	// log shows for one.
	Users []string

	// Clients are the client address ranges. A client connecting over
	// IPv6 from an IPv4-mapped address (::ffff:10.1.2.3) is the IPv4
	// client 10.1.2.3.
	Clients []netip.Prefix

	// Methods are request methods, compared exactly (RFC 9110 §9.1: method
	// names are case-sensitive), so they must be written in upper case:
	// "CONNECT", "GET".
	Methods []string

	// Hosts are host patterns: "example.com" matches that host only,
	// ".example.com" matches it and every subdomain, "*.example.com"
	// matches the subdomains only. Matching ignores ASCII case and one
	// trailing dot; internationalised names may be written in Unicode or
	// punycode and match either. An IP literal ("192.0.2.1", "2001:db8::1"
	// or "[2001:db8::1]") matches a request whose host is that address in
	// any form internal/dial accepts ("3221225985", "::ffff:192.0.2.1");
	// it does not match names that resolve to it, which is what Dest is
	// for.
	Hosts []string

	// Ports are destination ports or inclusive ranges: "443", "8000-8999",
	// each between 1 and 65535.
	Ports []string

	// Dest are destination address ranges: a CIDR ("10.0.0.0/8",
	// "2001:db8::/32"), a single address ("192.0.2.1"), or the name of a
	// set (see NamedSet and SetNames).
	Dest []string

	// Name identifies the rule in errors, deny pages and the log, for
	// example "access.rules[2] (line 14)". When empty, Compile uses
	// "access rule N", counting from 1.
	Name string
}

// List is a compiled rule list.
type List struct {
	rules        []rule
	destRules    []int32    // indices of the rules with a Dest condition, in order
	hasHosts     bool       // some rule has a Hosts condition
	index        *hostIndex // nil when the rules hold few host patterns
	defaultAllow bool
}

// rule is a compiled Rule.
type rule struct {
	name    string
	allow   bool
	destOrd int32 // position of this rule in List.destRules, or -1

	users   *userSet // nil when the rule has no Users condition
	clients []netip.Prefix
	methods []string
	hosts   []hostPattern
	ports   []portRange
	dest    *addrSet // nil when the rule has no Dest condition
}

type portRange struct{ lo, hi int }

// Compile checks and compiles rules. defaultAllow is the verdict when no
// rule matches. Every problem is reported, each with the rule's Name and
// the value at fault, joined with errors.Join.
func Compile(rules []Rule, defaultAllow bool) (*List, error) {
	l := &List{rules: make([]rule, 0, len(rules)), defaultAllow: defaultAllow}
	var errs []error
	for i := range rules {
		r := &rules[i]
		name := r.Name
		if name == "" {
			name = "access rule " + strconv.Itoa(i+1)
		}
		c := rule{name: name, allow: r.Allow, destOrd: -1}
		bad := func(what, value string, err error) {
			errs = append(errs, fmt.Errorf("%s: %s %q: %w", name, what, value, err))
		}
		if len(r.Users) > 0 {
			c.users = &userSet{}
			for _, u := range r.Users {
				if err := c.users.add(u); err != nil {
					bad("user", u, err)
				}
			}
			c.users.index()
		}
		for _, p := range r.Clients {
			n := normalPrefix(p)
			if !n.IsValid() {
				bad("client range", p.String(), errors.New("not a valid address range"))
				continue
			}
			c.clients = append(c.clients, n)
		}
		for _, m := range r.Methods {
			if err := checkMethod(m); err != nil {
				bad("method", m, err)
				continue
			}
			c.methods = append(c.methods, m)
		}
		for _, h := range r.Hosts {
			p, err := parseHostPattern(h)
			if err != nil {
				bad("host", h, err)
				continue
			}
			c.hosts = append(c.hosts, p)
			l.hasHosts = true
		}
		for _, s := range r.Ports {
			p, err := parsePorts(s)
			if err != nil {
				bad("port", s, err)
				continue
			}
			c.ports = append(c.ports, p)
		}
		if len(r.Dest) > 0 {
			c.dest = &addrSet{}
			for _, d := range r.Dest {
				if err := parseDest(c.dest, d); err != nil {
					bad("dest", d, err)
				}
			}
			c.destOrd = int32(len(l.destRules))
			l.destRules = append(l.destRules, int32(i))
		}
		l.rules = append(l.rules, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	l.index = newHostIndex(l.rules, indexMin)
	return l, nil
}

// Len returns the number of rules in l.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return len(l.rules)
}

// DefaultAllow reports the verdict when no rule matches; a nil List allows.
func (l *List) DefaultAllow() bool { return l == nil || l.defaultAllow }

// userSet is a compiled Users condition.
type userSet struct {
	any   bool // "*": any authenticated user
	anon  bool // "-": no authenticated user
	names []string
	set   map[string]struct{} // names, when there are many
}

func (s *userSet) add(u string) error {
	switch u {
	case "":
		return errors.New("empty; write \"-\" for requests without a user, \"*\" for any authenticated user")
	case "*":
		s.any = true
		return nil
	case "-":
		s.anon = true
		return nil
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c == 0x7f {
			return errors.New("contains white space or a control character")
		}
	}
	if strings.Contains(u, ":") {
		return errors.New(`contains ":", which no htpasswd user name can`)
	}
	s.names = append(s.names, u)
	return nil
}

// manyUsers is the number of names above which a Users condition is looked
// up in a map rather than scanned.
const manyUsers = 8

func (s *userSet) index() {
	if len(s.names) <= manyUsers {
		return
	}
	s.set = make(map[string]struct{}, len(s.names))
	for _, n := range s.names {
		s.set[n] = struct{}{}
	}
}

func (s *userSet) match(u string) bool {
	switch {
	case u == "":
		return s.anon
	case s.any:
		return true
	case s.set != nil:
		_, ok := s.set[u]
		return ok
	}
	for _, n := range s.names {
		if n == u {
			return true
		}
	}
	return false
}

// checkMethod accepts an RFC 9110 §5.6.2 token without lower-case letters.
func checkMethod(m string) error {
	if m == "" {
		return errors.New("empty")
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case 'a' <= c && c <= 'z':
			return errors.New("methods are case-sensitive (RFC 9110 §9.1); write it in upper case")
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return errors.New("not a method name (RFC 9110 §5.6.2 token)")
		}
	}
	return nil
}

// parsePorts parses "443" or "8000-8999".
func parsePorts(s string) (portRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := parsePort(lo)
	if err != nil {
		return portRange{}, err
	}
	if !isRange {
		return portRange{a, a}, nil
	}
	b, err := parsePort(hi)
	if err != nil {
		return portRange{}, err
	}
	if b < a {
		return portRange{}, errors.New("range ends before it starts")
	}
	return portRange{a, b}, nil
}

func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 {
		return 0, errors.New("not a port or a range of ports (\"443\", \"8000-8999\")")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a port or a range of ports (\"443\", \"8000-8999\")")
		}
		n = n*10 + int(s[i]-'0')
	}
	if n < 1 || n > 65535 {
		return 0, errors.New("ports are between 1 and 65535")
	}
	return n, nil
}

// parseDest adds one Dest value to s: a CIDR, an address or a set name.
func parseDest(s *addrSet, d string) error {
	if ps, ok := NamedSet(d); ok {
		for _, p := range ps {
			s.add(p)
		}
		return nil
	}
	if strings.Contains(d, "%") {
		return errors.New("an IPv6 zone names an interface of this host and cannot be a destination")
	}
	if strings.Contains(d, "/") {
		p, err := netip.ParsePrefix(d)
		if err != nil {
			return errors.New("not a valid CIDR range")
		}
		s.add(normalPrefix(p))
		return nil
	}
	a, err := netip.ParseAddr(d)
	if err != nil {
		return fmt.Errorf("not an address, a CIDR range or a named set (%s)", strings.Join(SetNames(), ", "))
	}
	a = normalAddr(a)
	s.add(netip.PrefixFrom(a, a.BitLen()))
	return nil
}
