// Package privacy limits what a forwarded request tells the web about the
// user: it trims or drops cross-site Referers, removes tracking parameters
// from URLs, sends Global Privacy Control, and at its strictest level
// replaces the User-Agent and blocks third-party cookies.
//
// A Policy is built once per configuration snapshot and applied in place to
// each outbound request (Request) and to the header of its response
// (Response). The level is chosen by the request's destination host, so a
// site that breaks can be given a gentler level on its own.
//
// The package deliberately does not block requests (package filter does),
// does not add X-Forwarded-For or Forwarded (the proxy omits them unless
// forwarded_for says otherwise; see Strict for what it removes), does not
// touch the body of a request or response, and sees nothing inside a CONNECT
// tunnel: an https:// page fetched by a browser through CONNECT is encrypted
// end to end, so only plain http:// requests, and https:// URLs a client
// sends to the proxy in absolute form, are affected.
package privacy

import (
	"fmt"
	"hash/maphash"
	"net/netip"
	"strings"

	"sluice/internal/wire"
)

// Level is how much a Policy changes a request.
type Level int

const (
	// Off changes nothing.
	Off Level = iota
	// Standard trims cross-site Referers to the referrer's origin, removes
	// tracking query parameters and adds Sec-GPC: 1. It is the level a
	// configuration without a privacy section should get; the zero Level
	// is Off, so that a zero Options changes nothing.
	Standard
	// Strict is Standard, and also removes cross-site Referers instead of
	// trimming them, replaces User-Agent with a generic one (removing the
	// Sec-CH-UA client hints that would contradict it), removes the
	// client-address headers a client or a proxy before this one added
	// (X-Forwarded-For, Forwarded, X-Real-IP, Client-IP, True-Client-IP,
	// X-Client-IP) and From, and blocks third-party cookies: Cookie is
	// removed from a third-party request and Set-Cookie from its response.
	Strict
)

// String returns the level's configuration name.
func (l Level) String() string {
	switch l {
	case Off:
		return "off"
	case Standard:
		return "standard"
	case Strict:
		return "strict"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel reads a level's configuration name: "off", "standard" or
// "strict".
func ParseLevel(s string) (Level, error) {
	switch s {
	case "off":
		return Off, nil
	case "standard":
		return Standard, nil
	case "strict":
		return Strict, nil
	}
	return Off, fmt.Errorf("privacy level %q: want off, standard or strict", s)
}

func (l Level) valid() bool { return l >= Off && l <= Strict }

// DefaultUserAgent is the User-Agent Strict sends when Options.UserAgent is
// empty: desktop Chrome on 64-bit Windows in the reduced form Chrome itself
// has sent since version 110 (minor, build and patch numbers fixed at 0),
// the most common browser string on the web. Its major version should follow
// Chrome's stable releases now and then; an old version stands out.
const DefaultUserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/153.0.0.0 Safari/537.36"

// Options configure a Policy. They are read once by New.
type Options struct {
	// Default is the level for destinations Sites does not name.
	Default Level
	// Sites overrides the level for requests to these destinations. A key
	// "example.com" means exactly that host; ".example.com" means it and
	// all its subdomains (Squid's dstdomain convention). The most specific
	// key wins: an exact host, then the longest dotted suffix. IP literals
	// may be named exactly ("192.0.2.1", "2001:db8::1" or "[2001:db8::1]").
	// Keys are case-insensitive.
	Sites map[string]Level
	// UserAgent replaces User-Agent under Strict. Empty means
	// DefaultUserAgent.
	UserAgent string
	// TrackingParams extends the built-in list of query parameters removed
	// (see TrackingParams): exact names, or prefixes ending in '*' such as
	// "utm_*". Names are matched case-sensitively against the
	// percent-decoded parameter name.
	TrackingParams []string
}

// Policy applies a privacy level to requests and responses. Its
// configuration is immutable after New, and it is safe for concurrent use;
// its only changing state is a bounded, lock-free cache of hosts' sites.
type Policy struct {
	def Level
	// exact and domains hold Options.Sites: exact hosts, and dotted
	// patterns keyed without their leading dot.
	exact, domains map[string]Level
	// ua is the one-element User-Agent value, shared by every request; it
	// is clipped when used, so appending to it copies.
	ua     []string
	params matcher
	sites  siteCache
}

// gpc is the shared Sec-GPC value (clipped when used).
var gpc = []string{"1"}

// New validates o and builds a Policy from it.
func New(o Options) (*Policy, error) {
	if !o.Default.valid() {
		return nil, fmt.Errorf("privacy: default level %s is not off, standard or strict", o.Default)
	}
	p := &Policy{def: o.Default}
	p.sites.seed = maphash.MakeSeed()
	for pat, l := range o.Sites {
		if !l.valid() {
			return nil, fmt.Errorf("privacy: site %q: level %s is not off, standard or strict", pat, l)
		}
		key, domain, err := parseSite(pat)
		if err != nil {
			return nil, fmt.Errorf("privacy: site %q: %w", pat, err)
		}
		m := &p.exact
		if domain {
			m = &p.domains
		}
		if *m == nil {
			*m = make(map[string]Level)
		}
		if prev, dup := (*m)[key]; dup && prev != l {
			return nil, fmt.Errorf("privacy: site %q: named twice with different levels (%s and %s)", pat, prev, l)
		}
		(*m)[key] = l
	}
	ua := o.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	if strings.TrimSpace(ua) != ua || !wire.ValidValue(ua) {
		return nil, fmt.Errorf("privacy: user agent %q is not a valid header value", ua)
	}
	p.ua = []string{ua}
	var err error
	if p.params, err = newMatcher(o.TrackingParams); err != nil {
		return nil, fmt.Errorf("privacy: %w", err)
	}
	return p, nil
}

// parseSite validates a Sites key and returns it lowercased, without its
// leading dot, and whether it had one.
func parseSite(pat string) (key string, domain bool, err error) {
	s := strings.ToLower(pat)
	if strings.HasPrefix(s, "*.") {
		return "", false, fmt.Errorf(`wildcards are not supported; write %q for a domain and its subdomains`, s[1:])
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.String(), false, nil
	}
	if domain = strings.HasPrefix(s, "."); domain {
		s = s[1:]
	}
	if s == "" {
		return "", false, fmt.Errorf("empty host")
	}
	if len(s) > 253 {
		return "", false, fmt.Errorf("host name longer than 253 bytes")
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return "", false, fmt.Errorf("empty label in host name")
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", false, fmt.Errorf("%q is not allowed in a host name (want letters, digits, '-', '_' and dots; no port or path)", c)
			}
		}
	}
	return s, domain, nil
}

// Level returns the level for requests to host, which may carry a port.
func (p *Policy) Level(host string) Level {
	if p.exact == nil && p.domains == nil {
		return p.def
	}
	return p.level(hostname(host))
}

// level is Level for a host already normalised by hostname.
func (p *Policy) level(h string) Level {
	if l, ok := p.exact[h]; ok {
		return l
	}
	if p.domains == nil || isIP(h) {
		return p.def
	}
	for s := h; ; {
		if l, ok := p.domains[s]; ok {
			return l
		}
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return p.def
		}
		s = s[i+1:]
	}
}

// Changes records what Request or Response did to a message, one bit per
// kind of change. It is cheap to return and to test; String spells it out
// for logs.
type Changes uint16

const (
	// ParamsRemoved: tracking parameters were removed from the URL.
	ParamsRemoved Changes = 1 << iota
	// RefererTrimmed: a cross-site Referer was cut to its origin (Standard).
	RefererTrimmed
	// RefererRemoved: a cross-site or unparsable Referer was removed (Strict).
	RefererRemoved
	// GPCAdded: Sec-GPC: 1 was added.
	GPCAdded
	// UserAgentReplaced: User-Agent was set to the generic one (Strict).
	UserAgentReplaced
	// ClientHintsRemoved: Sec-CH-UA client hints were removed (Strict).
	ClientHintsRemoved
	// ForwardedRemoved: client-address headers or From were removed (Strict).
	ForwardedRemoved
	// CookieRemoved: Cookie was removed from a third-party request (Strict).
	CookieRemoved
	// SetCookieRemoved: Set-Cookie was removed from the response to a
	// third-party request (Strict; returned by Response).
	SetCookieRemoved
	// ThirdParty is not a change but a finding: under Strict, Request
	// classified the request as third-party. Response acts on it.
	ThirdParty
)

var changeNames = [...]string{
	"params-removed", "referer-trimmed", "referer-removed", "gpc-added",
	"user-agent-replaced", "client-hints-removed", "forwarded-removed",
	"cookie-removed", "set-cookie-removed", "third-party",
}

// String lists the bits set in c, comma-separated, such as
// "params-removed,gpc-added"; no bits is "".
func (c Changes) String() string {
	var b strings.Builder
	for i, name := range changeNames {
		if c&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(name)
		}
	}
	return b.String()
}
