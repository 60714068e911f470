package privacy

import (
	"hash/maphash"
	"strings"
	"sync/atomic"

	"golang.org/x/net/publicsuffix"
)

// SiteOf returns the site of host: its registrable domain, the public
// suffix plus one label (eTLD+1), from the Public Suffix List compiled into
// golang.org/x/net/publicsuffix, private suffixes such as github.io
// included. host may carry a port and brackets; the result is lowercase and
// has no trailing dot. IP literals, single-label hosts ("localhost"), hosts
// that are themselves a public suffix and malformed names are their own
// site.
//
// Two URLs are same-site when their hosts have the same site, whatever
// their schemes and ports: www.example.co.uk and static.example.co.uk are
// same-site; a.github.io and b.github.io are not.
func SiteOf(host string) string { return site(hostname(host)) }

// site is SiteOf for a host already normalised by hostname. It does not
// allocate.
func site(h string) string {
	if h == "" || isIP(h) || strings.IndexByte(h, '.') < 0 ||
		h[0] == '.' || h[len(h)-1] == '.' || strings.Contains(h, "..") {
		return h
	}
	// publicsuffix.EffectiveTLDPlusOne would do, but it builds an error
	// (an allocation) for the hosts that are their own site.
	suffix, _ := publicsuffix.PublicSuffix(h)
	if len(suffix) >= len(h) {
		return h
	}
	i := len(h) - len(suffix) - 1
	if h[i] != '.' {
		return h
	}
	return h[1+strings.LastIndexByte(h[:i], '.'):]
}

// hostname returns the host of a host[:port] or [ipv6][:port] authority,
// without brackets or a trailing dot, in lowercase. It allocates only when
// the host has upper-case letters.
func hostname(hostport string) string {
	h := hostport
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[1:i]
		} else {
			h = h[1:]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		h = h[:i] // one colon: a port; more: an unbracketed IPv6 address
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// isIP reports whether a normalised host is an IP literal: IPv6 (it has a
// colon), or a name whose last label is numeric, which no domain name has
// and which resolvers read as IPv4 ("192.0.2.1", "127.1").
func isIP(h string) bool {
	if strings.IndexByte(h, ':') >= 0 {
		return true
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	for i := 0; i < len(last); i++ {
		if c := last[i]; c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// siteCacheSize is the number of slots in a siteCache.
const siteCacheSize = 512

// siteCache remembers the sites of recently seen hosts. A Public Suffix
// List lookup costs about 150 ns and an allocation (publicsuffix first tries
// the name as an IP address, and the failed parse allocates its error),
// while a browser asks about the same few hosts over and over. The cache is
// direct-mapped and lock-free: a slot holds one immutable entry, replaced
// whole on a miss, so a reader sees the old entry or the new one, and
// memory stays bounded without eviction bookkeeping.
type siteCache struct {
	seed  maphash.Seed
	slots [siteCacheSize]atomic.Pointer[siteEntry]
}

type siteEntry struct{ host, site string }

// site is site(h), remembered.
func (c *siteCache) site(h string) string {
	if h == "" || isIP(h) || strings.IndexByte(h, '.') < 0 {
		return h // cheap without the list
	}
	slot := &c.slots[maphash.String(c.seed, h)%siteCacheSize]
	if e := slot.Load(); e != nil && e.host == h {
		return e.site
	}
	s := site(h)
	// The host is usually part of a larger string (a Referer, a request
	// line) that the cache must not keep alive; the site is a suffix of
	// the host and shares its copy.
	h = strings.Clone(h)
	e := &siteEntry{host: h, site: h[len(h)-len(s):]}
	slot.Store(e)
	return e.site
}

// dest is a request's destination host, with its site computed on first
// use.
type dest struct {
	host  string // normalised by hostname
	cache *siteCache
	site  string
	done  bool
}

// sameSite reports whether host (normalised) is same-site with d.
func (d *dest) sameSite(host string) bool {
	if host == d.host {
		return true
	}
	if !d.done {
		d.site, d.done = d.cache.site(d.host), true
	}
	return d.cache.site(host) == d.site
}

// origin is the scheme and authority at the start of a Referer or Origin
// value.
type origin struct {
	raw      string
	scheme   string // up to, not including, "://"
	hostport string // the authority without userinfo
	host     string // hostport normalised by hostname
	end      int    // index in raw just after the authority
	userinfo bool
}

// parseOrigin reads the scheme and authority of an absolute URL
// (RFC 3986 §3: scheme "://" [userinfo "@"] host [":" port]). It reports
// false for values that are not one, such as a relative reference,
// "about:client", an empty host or Origin "null".
func parseOrigin(v string) (origin, bool) {
	i := strings.Index(v, "://")
	if i <= 0 {
		return origin{}, false
	}
	for j := 0; j < i; j++ {
		c := v[j]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
			j > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return origin{}, false
		}
	}
	o := origin{raw: v, scheme: v[:i]}
	rest := v[i+3:]
	n := strings.IndexAny(rest, "/?#")
	if n < 0 {
		n = len(rest)
	}
	auth := rest[:n]
	o.end = i + 3 + n
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		o.userinfo = true
		auth = auth[at+1:]
	}
	o.hostport = auth
	o.host = hostname(auth)
	if o.host == "" {
		return origin{}, false
	}
	return o, true
}

// trimmed returns the origin as a Referer: "scheme://host[:port]/", with
// scheme, host and port as they were written and any userinfo dropped. A
// value that already ends after its authority is returned as it is.
func (o origin) trimmed() string {
	if o.userinfo {
		return o.scheme + "://" + o.hostport + "/"
	}
	if o.end == len(o.raw) {
		return o.raw
	}
	if o.raw[o.end] == '/' {
		return o.raw[:o.end+1] // a substring: no allocation
	}
	return o.raw[:o.end] + "/"
}
