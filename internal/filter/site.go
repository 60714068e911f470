package filter

import "strings"

// RegistrableDomain approximates the registrable domain of a host name
// without a public-suffix list: the last two labels ("example.com" for
// "ads.example.com"), or the last three when the top-level domain has two
// letters and the label before it is one of co, com, net, org, gov, ac or
// edu ("example.co.uk", "example.com.au"). An IP address, or a name of one
// or two labels, is its own registrable domain. It returns a substring of
// host and does not allocate.
//
// The approximation is wrong for suffixes it does not know (on
// "user.github.io" it answers "github.io", so two users' pages count as
// the same site); Matcher.SiteOf takes a real public-suffix lookup.
func RegistrableDomain(host string) string {
	host = strings.TrimSuffix(host, ".")
	if strings.IndexByte(host, ':') >= 0 {
		return host // IPv6
	}
	last := strings.LastIndexByte(host, '.')
	if last < 0 {
		return host
	}
	tld := host[last+1:]
	if tld == "" || '0' <= tld[0] && tld[0] <= '9' {
		return host // IPv4, or not a name
	}
	second := strings.LastIndexByte(host[:last], '.')
	if second < 0 {
		return host
	}
	if len(tld) == 2 && shortSLD(host[second+1:last]) {
		return host[strings.LastIndexByte(host[:second], '.')+1:]
	}
	return host[second+1:]
}

// shortSLD reports whether a second-level label is one that countries use
// under their two-letter domain for registrations ("co" in "co.uk").
func shortSLD(s string) bool {
	switch s {
	case "co", "com", "net", "org", "gov", "ac", "edu":
		return true
	}
	return false
}
