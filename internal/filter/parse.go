package filter

import (
	"net/netip"
	"strings"
)

// parser turns the lines of one list into rules.
type parser struct {
	list  *List
	text  arena
	rules []Rule // the current chunk; full chunks are never appended to, so *Rule stays valid
}

// newRule records the line a rule came from.
func (p *parser) newRule(n int, text string, allow bool) *Rule {
	if len(p.rules) == cap(p.rules) {
		p.rules = make([]Rule, 0, min(max(2*cap(p.rules), 16), 1024))
	}
	p.rules = append(p.rules, Rule{List: p.list.name, Line: n, Text: text, Allow: allow})
	return &p.rules[len(p.rules)-1]
}

// line parses line n in the list's format.
func (p *parser) line(n int, b []byte) {
	b = trimSpace(b)
	if len(b) == 0 {
		return
	}
	switch p.list.format {
	case Hosts:
		p.hostsLine(n, b)
	case Domains:
		p.domainsLine(n, b)
	case Adblock:
		p.adblockLine(n, b)
	case Regex:
		p.regexLine(n, b)
	}
}

// hostsLine parses "address name…", where "#" starts a comment anywhere.
// Each name blocks exactly that host. Names of the local machine
// (localhost, broadcasthost, …) and names that are addresses are ignored.
func (p *parser) hostsLine(n int, b []byte) {
	if b[0] == '#' {
		return
	}
	s := p.text.add(b)
	body, _, _ := strings.Cut(s, "#")
	addr, rest := nextField(body)
	if _, err := netip.ParseAddr(addr); err != nil {
		p.list.stats.Invalid++
		return
	}
	var r *Rule
	bad, any := false, false
	for name := ""; rest != ""; {
		name, rest = nextField(rest)
		any = true
		name = strings.TrimSuffix(p.text.lower(name), ".")
		if localNames[name] {
			continue
		}
		if _, err := netip.ParseAddr(name); err == nil {
			continue
		}
		if !validHost(name) {
			bad = true
			continue
		}
		if r == nil {
			r = p.newRule(n, s, false)
		}
		p.list.hosts = append(p.list.hosts, hostRule{host: name, mode: exactHost, rule: r})
		p.list.stats.Hosts++
	}
	if bad || !any {
		p.list.stats.Invalid++
	}
}

// localNames are the names hosts files give the machine itself; blocking
// them would be wrong, and they are in every hosts-format block list.
var localNames = map[string]bool{
	"localhost": true, "localhost.localdomain": true, "local": true,
	"broadcasthost": true, "ip6-localhost": true, "ip6-loopback": true,
	"ip6-localnet": true, "ip6-mcastprefix": true, "ip6-allnodes": true,
	"ip6-allrouters": true, "ip6-allhosts": true,
}

// nextField splits the first run of non-blank characters off s.
func nextField(s string) (field, rest string) {
	s = trimSpace(s)
	i := 0
	for i < len(s) && !isSpace(s[i]) {
		i++
	}
	return s[:i], trimSpace(s[i:])
}

// domainsLine parses a domain-list line: "example.com" (that host),
// "*.example.com" (its subdomains), ".example.com" (both), or a "/regex/".
// "#" and "!" start a comment line; "#" after white space ends a line.
func (p *parser) domainsLine(n int, b []byte) {
	if b[0] == '#' || b[0] == '!' {
		return
	}
	s := p.text.add(b)
	if isRegexLine(s) {
		p.regexRule(n, s, s[1:len(s)-1], false)
		return
	}
	host, mode, ok := domainEntry(stripComment(s))
	if !ok {
		p.list.stats.Invalid++
		return
	}
	p.list.hosts = append(p.list.hosts, hostRule{host: p.text.lower(host), mode: mode, rule: p.newRule(n, s, false)})
	p.list.stats.Domains++
}

// domainEntry parses a domain-list entry; the host it returns may still
// hold upper-case letters.
func domainEntry(s string) (host string, mode hostMode, ok bool) {
	mode = exactHost
	switch {
	case strings.HasPrefix(s, "*."):
		mode, s = subdomains, s[2:]
	case strings.HasPrefix(s, "."):
		mode, s = hostAndSubdomains, s[1:]
	}
	s = strings.TrimSuffix(s, ".")
	return s, mode, validHost(s)
}

// regexLine parses a Regex-format line: a regular expression, with or
// without the enclosing slashes. "#" and "!" start a comment line.
func (p *parser) regexLine(n int, b []byte) {
	if b[0] == '#' || b[0] == '!' {
		return
	}
	s := p.text.add(b)
	expr := s
	if isRegexLine(s) {
		expr = s[1 : len(s)-1]
	}
	p.regexRule(n, s, expr, false)
}

// regexRule adds a rule matching the whole URL with expr; fold makes it
// case-insensitive.
func (p *parser) regexRule(n int, text, expr string, fold bool) {
	re, keys, err := compileRegex(expr, fold)
	if err != nil {
		p.list.stats.Invalid++
		return
	}
	p.list.nets = append(p.list.nets, netRule{re: re, keys: keys, rule: p.newRule(n, text, false)})
	p.list.stats.Regexps++
}

// validHost reports whether s is a host name this package can match: dot-
// separated labels of 1 to 63 ASCII letters, digits, "-" or "_", 253 bytes
// at most. Internationalised names must be written in punycode ("xn--…").
func validHost(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			if label++; label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return label > 0
}
