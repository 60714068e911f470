package filter

import "strings"

// ruleFlags hold what an Adblock rule's syntax and options say.
type ruleFlags uint16

const (
	exception   ruleFlags = 1 << iota // "@@"
	important                         // $important
	matchCase                         // $match-case
	anchorHost                        // "||": at the start of a host label
	anchorStart                       // "|" first: at the start of the URL
	anchorEnd                         // "|" last: at the end of the URL
	firstParty                        // $~third-party, $1p, $first-party
	thirdParty                        // $third-party, $3p, $~first-party
)

// adblockLine parses one line of an Adblock-format list.
func (p *parser) adblockLine(n int, b []byte) {
	switch {
	case b[0] == '!':
		return // comment
	case b[0] == '[' && b[len(b)-1] == ']':
		return // "[Adblock Plus 2.0]"
	case cosmetic(b):
		p.list.stats.Cosmetic++
		return
	case b[0] == '#':
		return // "# comment", as uBlock Origin accepts
	}
	p.adblockRule(n, p.text.add(b))
}

// adblockRule parses a network rule: ["@@"] pattern ["$" options].
func (p *parser) adblockRule(n int, s string) {
	st := &p.list.stats
	var fl ruleFlags
	rest := s
	if r, ok := strings.CutPrefix(rest, "@@"); ok {
		fl, rest = exception, r
	}
	pat, opts := splitOptions(rest)
	dom, ofl, v := parseOptions(opts, &p.text)
	switch v {
	case optSkip:
		st.Skipped++
		return
	case optInvalid:
		st.Invalid++
		return
	}
	fl |= ofl
	if fl&exception != 0 {
		fl &^= important // documented: $important does not raise an exception
	}
	allow := fl&exception != 0
	if isRegexLine(pat) {
		re, keys, err := compileRegex(pat[1:len(pat)-1], fl&matchCase == 0)
		if err != nil {
			st.Invalid++
			return
		}
		p.list.nets = append(p.list.nets, netRule{re: re, keys: keys, flags: fl, dom: dom, rule: p.newRule(n, s, allow)})
		st.Regexps++
	} else {
		pat, fl = anchors(pat, fl)
		if !validPattern(pat) {
			st.Invalid++
			return
		}
		if fl&matchCase == 0 {
			pat = p.text.lower(pat)
		}
		r := p.newRule(n, s, allow)
		if host, ok := hostPattern(pat, fl); ok {
			p.list.hosts = append(p.list.hosts, hostRule{host: p.text.lower(host), mode: hostAndSubdomains, flags: fl, dom: dom, rule: r})
		} else {
			p.list.nets = append(p.list.nets, netRule{pat: pat, star: int32(firstStar(pat)), flags: fl, dom: dom, rule: r})
		}
		st.Network++
	}
	if allow {
		st.Exceptions++
	}
}

// splitOptions splits a rule at the first "$" that starts an option list:
// one followed by an option name ("~"? letters, digits, "-", "_") and then
// "=", "," or the end. Any other "$" belongs to the pattern, so a regular
// expression may end in "$". A whole "/…/" is a pattern without options.
func splitOptions(s string) (pat, opts string) {
	if isRegexLine(s) {
		return s, ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && optionsStart(s[i+1:]) {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func optionsStart(s string) bool {
	s = strings.TrimPrefix(s, "~")
	n := 0
	for n < len(s) && (isAlnum(s[n]) || s[n] == '-' || s[n] == '_') {
		n++
	}
	return n > 0 && (n == len(s) || s[n] == '=' || s[n] == ',')
}

// anchors takes the anchors off a pattern and into flags. Leading and
// trailing "*" are dropped with the anchor they make meaningless.
func anchors(pat string, fl ruleFlags) (string, ruleFlags) {
	if p, ok := strings.CutPrefix(pat, "||"); ok {
		pat, fl = p, fl|anchorHost
	} else if p, ok := strings.CutPrefix(pat, "|"); ok {
		pat, fl = p, fl|anchorStart
	}
	if p, ok := strings.CutSuffix(pat, "|"); ok {
		pat, fl = p, fl|anchorEnd
	}
	if p := strings.TrimLeft(pat, "*"); len(p) != len(pat) {
		pat, fl = p, fl&^(anchorHost|anchorStart)
	}
	if p := strings.TrimRight(pat, "*"); len(p) != len(pat) {
		pat, fl = p, fl&^anchorEnd
	}
	return pat, fl
}

// validPattern reports whether a pattern is free of white space and
// control characters, which no URL holds.
func validPattern(pat string) bool {
	for i := 0; i < len(pat); i++ {
		if pat[i] <= ' ' || pat[i] == 0x7f {
			return false
		}
	}
	return true
}

// hostPattern reports whether a pattern is exactly "||host^": a rule about
// a host and its subdomains, which the host index answers and which also
// applies to CONNECT.
func hostPattern(pat string, fl ruleFlags) (string, bool) {
	if fl&(anchorHost|anchorStart|anchorEnd) != anchorHost {
		return "", false
	}
	host, ok := strings.CutSuffix(pat, "^")
	return host, ok && validHost(host)
}

// verdict is what parseOptions makes of a rule's options.
type verdict int

const (
	optOK      verdict = iota
	optSkip            // an option a proxy cannot honour: skip the rule
	optInvalid         // malformed
)

// parseOptions parses a comma-separated option list. The options honoured
// are third-party (3p), first-party (1p) and their negations, domain= (from=),
// important, match-case, and document (doc) and all, which apply to a whole
// request as a proxy sees it. Any other option restricts the rule to a
// resource type a proxy cannot see reliably, or asks for something other
// than blocking (removeparam, csp, redirect, …): the rule is skipped.
func parseOptions(opts string, a *arena) (*siteDomains, ruleFlags, verdict) {
	var fl ruleFlags
	var dom *siteDomains
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		name, value, hasValue := strings.Cut(o, "=")
		name, neg := strings.CutPrefix(name, "~")
		switch name = strings.ToLower(name); name {
		case "domain", "from":
			if neg || !hasValue {
				return nil, 0, optInvalid
			}
			d, v := parseDomains(value, a)
			if v != optOK {
				return nil, 0, v
			}
			dom = d
			continue
		case "third-party", "3p", "first-party", "1p", "important", "match-case", "document", "doc", "all", "":
			if hasValue || name == "" || neg && name == "important" {
				return nil, 0, optInvalid
			}
		default:
			return nil, 0, optSkip
		}
		switch name {
		case "third-party", "3p", "first-party", "1p":
			fl &^= firstParty | thirdParty
			if third := name == "third-party" || name == "3p"; third != neg {
				fl |= thirdParty
			} else {
				fl |= firstParty
			}
		case "important":
			fl |= important
		case "match-case":
			if !neg {
				fl |= matchCase
			}
		case "document", "doc", "all":
			if neg {
				return nil, 0, optSkip // every type but documents: a type restriction
			}
		}
	}
	return dom, fl, optOK
}

// parseDomains parses the value of $domain=: host names separated by "|",
// each excluded when it starts with "~". Entity names ("example.*") and
// regular expressions are not supported: the rule is skipped.
func parseDomains(value string, a *arena) (*siteDomains, verdict) {
	d := &siteDomains{}
	for value != "" || len(d.list) == 0 {
		var v string
		v, value, _ = strings.Cut(value, "|")
		v, neg := strings.CutPrefix(v, "~")
		v = strings.TrimSuffix(v, ".")
		if strings.HasSuffix(v, ".*") || strings.HasPrefix(v, "/") {
			return nil, optSkip
		}
		if !validHost(v) {
			return nil, optInvalid
		}
		d.list = append(d.list, siteDomain{name: a.lower(v), exclude: neg})
		d.include = d.include || !neg
	}
	return d, optOK
}

// siteDomains is a $domain= option: the pages a rule applies on.
type siteDomains struct {
	list    []siteDomain
	include bool // some entry is not an exclusion
}

type siteDomain struct {
	name    string
	exclude bool
}

// match reports whether a rule with this $domain= applies to requests from
// a page on site. The most specific entry that site is or is a subdomain of
// decides; when none does, the rule applies only if every entry is an
// exclusion. An unknown site ("") never matches.
func (d *siteDomains) match(site string) bool {
	if site == "" {
		return false
	}
	for s := site; ; {
		for _, e := range d.list {
			if e.name == s {
				return !e.exclude
			}
		}
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return !d.include
		}
		s = s[i+1:]
	}
}
