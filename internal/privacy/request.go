package privacy

import "net/http"

// Request applies the policy to an outbound request in place: its URL
// (RawQuery, and RequestURI when set) and its header. It must run before the
// request's cache lookup, so that URLs differing only in tracking
// parameters share a cached response, and before the proxy adds its own
// forwarding headers. Values in r.Header are edited in place; a value the
// policy adds (Sec-GPC, User-Agent) is a slice shared between requests and
// must not be modified in place by later stages (appending is safe).
//
// The request's destination is r.URL.Host, or r.Host when the URL has none.
// The returned Changes are to be passed to Response for the same exchange.
func (p *Policy) Request(r *http.Request) Changes {
	host := r.URL.Host
	if host == "" {
		host = r.Host
	}
	dst := dest{host: hostname(host), cache: &p.sites}
	lvl := p.def
	if p.exact != nil || p.domains != nil {
		lvl = p.level(dst.host)
	}
	if lvl == Off {
		return 0
	}
	h := r.Header
	var c Changes

	// Third-party classification reads Referer and Origin as the client
	// sent them, before the Referer is trimmed or removed below.
	if lvl == Strict && p.thirdParty(h, &dst) {
		c |= ThirdParty
	}

	if p.stripURL(r) {
		c |= ParamsRemoved
	}
	c |= p.referer(h, &dst, lvl)
	if _, ok := h["Sec-Gpc"]; !ok {
		h["Sec-Gpc"] = gpc[:1:1]
		c |= GPCAdded
	}
	if lvl != Strict {
		return c
	}

	if ua := h["User-Agent"]; len(ua) != 1 || ua[0] != p.ua[0] {
		h["User-Agent"] = p.ua[:1:1]
		c |= UserAgentReplaced
	}
	// One pass over the header costs less than a lookup per name removed.
	for k := range h {
		switch k {
		case "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Sec-Ch-Ua-Platform-Version",
			"Sec-Ch-Ua-Arch", "Sec-Ch-Ua-Bitness", "Sec-Ch-Ua-Model", "Sec-Ch-Ua-Full-Version",
			"Sec-Ch-Ua-Full-Version-List", "Sec-Ch-Ua-Wow64", "Sec-Ch-Ua-Form-Factors":
			// The User-Agent client hints (https://wicg.github.io/ua-client-hints/),
			// which would contradict the replaced User-Agent.
			delete(h, k)
			c |= ClientHintsRemoved
		case "X-Forwarded-For", "Forwarded", "X-Real-Ip", "Client-Ip", "True-Client-Ip", "X-Client-Ip", "From":
			// What a client, or a proxy in front of this one, adds to name
			// the user or their address. This proxy adds its own only as
			// forwarded_for says, after the policy ran.
			delete(h, k)
			c |= ForwardedRemoved
		}
	}
	if c&ThirdParty != 0 {
		if _, ok := h["Cookie"]; ok {
			delete(h, "Cookie")
			c |= CookieRemoved
		}
	}
	return c
}

// Response applies the policy to the header of the response to a request,
// in place. c is what Request returned for that request: the request as
// forwarded may no longer carry the Referer that made it third-party, so
// Response does not classify it again. Under Strict, Set-Cookie is removed
// from the response to a third-party request. Response must run on every
// response handed to the client, cache hits included, before its header is
// written.
func (p *Policy) Response(c Changes, h http.Header) Changes {
	if c&ThirdParty == 0 {
		return 0
	}
	if _, ok := h["Set-Cookie"]; ok {
		delete(h, "Set-Cookie")
		return SetCookieRemoved
	}
	return 0
}

// thirdParty reports whether a request is third-party: its Referer or
// Origin names a site other than the destination's. A request with neither
// (a typed URL, a bookmark) is first-party, and so is a top-level
// navigation (Sec-Fetch-Mode: navigate with Sec-Fetch-Dest: document): the
// user is going to that site, which becomes the first party, as browsers
// themselves treat it for SameSite=Lax cookies. Without that exception
// every link from another site, and every single sign-on redirect back to
// a site, would arrive without the site's own cookies. A Referer or Origin
// that cannot be parsed, and Origin "null", count as neither.
func (p *Policy) thirdParty(h http.Header, dst *dest) bool {
	if first(h, "Sec-Fetch-Mode") == "navigate" && first(h, "Sec-Fetch-Dest") == "document" {
		return false
	}
	for _, v := range h["Referer"] {
		if o, ok := parseOrigin(v); ok && !dst.sameSite(o.host) {
			return true
		}
	}
	for _, v := range h["Origin"] {
		if o, ok := parseOrigin(v); ok && !dst.sameSite(o.host) {
			return true
		}
	}
	return false
}

// referer trims (Standard) or removes (Strict) each cross-site Referer
// value. Same-site values are kept as they are. An unparsable value is
// kept by Standard, which cannot tell what it reveals, and removed by
// Strict, which cannot tell that it is same-site.
func (p *Policy) referer(h http.Header, dst *dest, lvl Level) Changes {
	vv, ok := h["Referer"]
	if !ok {
		return 0
	}
	var c Changes
	kept := vv[:0]
	for _, v := range vv {
		if o, ok := parseOrigin(v); !ok || !dst.sameSite(o.host) {
			if lvl == Strict {
				c |= RefererRemoved
				continue
			}
			if t := o.trimmed(); ok && t != v {
				v = t
				c |= RefererTrimmed
			}
		}
		kept = append(kept, v)
	}
	if len(kept) == 0 {
		delete(h, "Referer")
	} else if len(kept) < len(vv) {
		clear(vv[len(kept):])
		h["Referer"] = kept
	}
	return c
}

// stripURL removes tracking parameters from r.URL.RawQuery and keeps
// r.RequestURI consistent with it. It reports whether it changed anything.
func (p *Policy) stripURL(r *http.Request) bool {
	u := r.URL
	old := u.RawQuery
	q, changed := p.params.strip(old)
	if !changed {
		return false
	}
	u.RawQuery = q
	if q == "" {
		u.ForceQuery = false
	}
	// RequestURI is the request target as received; its query is the
	// same bytes as RawQuery (no fragment is allowed in a target).
	if ru := r.RequestURI; len(ru) > len(old) && ru[len(ru)-len(old)-1] == '?' && ru[len(ru)-len(old):] == old {
		base := ru[:len(ru)-len(old)-1]
		if q == "" {
			r.RequestURI = base
		} else {
			r.RequestURI = base + "?" + q
		}
	}
	return true
}

func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
