package config

import (
	"net/url"
	"strings"
	"time"

	"sluice/internal/lists"
)

// Filter holds the block and allow lists. In the file they are keys under
// "filter:". Lists are read at start and again on reload; see
// docs/filtering.md for their formats and exact meaning.
type Filter struct {
	// Block lists the block lists, each a file path or an http:// or
	// https:// URL. A file's format (hosts file, domain list, Adblock /
	// EasyList rules, or regular expressions) is detected from its
	// contents. A request any of them matches gets 403 Forbidden and a
	// page naming the rule and its list. The default is empty. Flag:
	// --block-list (repeatable), added to these.
	Block []string `yaml:"block"`

	// Allow lists the allow lists, in the same forms and formats. A request
	// any of them matches is never blocked, whatever the block lists say.
	// The default is empty. Flag: --allow-list (repeatable).
	Allow []string `yaml:"allow"`

	// ReportOnly, when true, blocks nothing: requests a block list matches
	// are forwarded, and the access log and the diagnostic log say which
	// rule would have blocked them. The default is false. Use it to try a
	// new list on real traffic.
	ReportOnly bool `yaml:"report_only"`

	// Refresh is how often lists given as URLs are fetched again. The
	// default is 24h; it must be at least 1m. Lists are fetched through
	// the proxy's own upstream connections and cache, so the destination
	// rules (allow_dest) apply to them too.
	Refresh Duration `yaml:"refresh"`

	// Dir keeps the last good copy of every list given as a URL, so that
	// a restart without network still blocks. The default, "", means the
	// user's cache directory (os.UserCacheDir, usually ~/.cache) plus
	// "/sluice-lists".
	Dir string `yaml:"dir"`
}

// Privacy holds what the proxy hides about its users. In the file they are
// keys under "privacy:". See docs/privacy.md for what each level does.
type Privacy struct {
	// Level is the privacy level for every destination not listed in
	// sites: "off" (change nothing), "standard" (the default: trim
	// cross-site Referers to the origin, remove tracking query parameters
	// like utm_source and fbclid, send Sec-GPC: 1) or "strict" (also a
	// generic User-Agent, no cross-site Referer, and no cookies on
	// third-party requests; some sites break). Flag: --privacy.
	Level string `yaml:"level"`

	// Sites sets the level for some destinations: keys are host names,
	// "example.com" for exactly that host or ".example.com" for it and its
	// subdomains; values are levels. The most specific key wins. The
	// default is empty. Example: {".bank.example": "off"}.
	Sites map[string]string `yaml:"sites"`

	// UserAgent replaces the User-Agent of requests under "strict". The
	// default, "", means a common desktop browser's.
	UserAgent string `yaml:"user_agent"`

	// TrackingParams adds query parameter names to remove under
	// "standard" and "strict", besides the built-in list; a name ending in
	// "*" is a prefix, like "pk_*". The default is empty.
	TrackingParams []string `yaml:"tracking_params"`
}

// Rewrite holds the header and HTML rewriting rules. In the file they are
// keys under "rewrite:". See docs/rewrite.md.
type Rewrite struct {
	// Headers are header rules, applied in order: each has a match, a
	// phase ("request" or "response"), an action ("add", "set", "remove"
	// or "replace"), a name, and a value (add, set, replace) or regex
	// (replace). The default is empty.
	Headers []HeaderRule `yaml:"headers"`

	// HTML are HTML rules for matching text/html responses, rewritten as
	// they stream: remove elements by selector, inject snippets after
	// <head> or before </body>, and replace text. The default is empty.
	HTML []HTMLRule `yaml:"html"`
}

// RuleMatch says which requests a rewrite rule applies to; every field
// given must match, and an empty match matches everything.
type RuleMatch struct {
	// URL is a pattern for the whole URL: "*" matches any run of
	// characters, or write a regular expression between slashes, like
	// "/^https?://ads\./".
	URL string `yaml:"url"`
	// Host is "example.com" for exactly that host, or ".example.com" for
	// it and its subdomains.
	Host string `yaml:"host"`
	// ContentType lists response media types, like [text/html] or
	// [text/*].
	ContentType []string `yaml:"content_type"`
}

// HeaderRule is one header rewriting rule.
type HeaderRule struct {
	// Match selects the requests the rule applies to.
	Match RuleMatch `yaml:"match"`
	// Phase is "request" (change what goes to the origin) or "response"
	// (change what goes to the client).
	Phase string `yaml:"phase"`
	// Action is "add" (append a field line), "set" (replace all lines of
	// the field), "remove" or "replace" (a regular expression replaced in
	// each value).
	Action string `yaml:"action"`
	// Name is the header field's name.
	Name string `yaml:"name"`
	// Value is the value to add or set, or the replacement for "replace"
	// ($1 expands to the first group).
	Value string `yaml:"value"`
	// Regex is what "replace" looks for.
	Regex string `yaml:"regex"`
}

// HTMLRule is one HTML rewriting rule.
type HTMLRule struct {
	// Match selects the responses the rule applies to.
	Match RuleMatch `yaml:"match"`
	// Remove lists selectors of elements to remove with their content,
	// like "div.ad", "#banner" or "iframe[src]".
	Remove []string `yaml:"remove"`
	// InjectHead is HTML inserted right after the <head> tag.
	InjectHead string `yaml:"inject_head"`
	// InjectBody is HTML inserted right before </body>.
	InjectBody string `yaml:"inject_body"`
	// Replace lists regular-expression replacements in text (not inside
	// scripts, styles or attributes).
	Replace []TextReplace `yaml:"replace"`
}

// TextReplace is one text replacement of an HTML rule.
type TextReplace struct {
	// Regex is the regular expression to look for.
	Regex string `yaml:"regex"`
	// With is the replacement; $1 expands to the first group.
	With string `yaml:"with"`
}

func (f *Filter) check(v *checker) {
	for _, key := range []string{"filter.block", "filter.allow"} {
		list := f.Block
		if key == "filter.allow" {
			list = f.Allow
		}
		for i, s := range list {
			switch {
			case strings.TrimSpace(s) == "":
				v.add(key, i, "empty list source; write a file path or an http(s) URL")
			case lists.IsURL(s):
				if u, err := url.Parse(s); err != nil || u.Host == "" {
					v.add(key, i, "%q is not a valid URL", s)
				}
			}
		}
	}
	if f.Refresh < Duration(time.Minute) {
		v.add("filter.refresh", -1, `must be at least 1m, not %s`, f.Refresh)
	}
}

var privacyLevels = []string{"off", "standard", "strict"}

func (p *Privacy) check(v *checker) {
	v.oneOf("privacy.level", p.Level, privacyLevels...)
	for host, level := range p.Sites {
		h := strings.TrimPrefix(host, ".")
		if h == "" || !isHostName(h) {
			v.add("privacy.sites."+host, -1, "%q is not a host name or .domain", host)
			continue
		}
		v.oneOf("privacy.sites."+host, level, privacyLevels...)
	}
	for i, name := range p.TrackingParams {
		if strings.TrimSuffix(name, "*") == "" || strings.ContainsAny(name, "&=# ") {
			v.add("privacy.tracking_params", i, "%q is not a query parameter name (or prefix ending in *)", name)
		}
	}
}

func (r *Rewrite) check(v *checker) {
	for i, h := range r.Headers {
		key := itemKey("rewrite.headers", i)
		v.oneOf(key+".phase", h.Phase, "request", "response")
		v.oneOf(key+".action", h.Action, "add", "set", "remove", "replace")
		if !isToken(h.Name) {
			v.add(key+".name", -1, "%q is not a header field name", h.Name)
		}
		if h.Action == "replace" && h.Regex == "" {
			v.add(key+".regex", -1, "replace needs a regex")
		}
	}
	for i, h := range r.HTML {
		if len(h.Remove) == 0 && h.InjectHead == "" && h.InjectBody == "" && len(h.Replace) == 0 {
			v.add(itemKey("rewrite.html", i), -1, "does nothing; give remove, inject_head, inject_body or replace")
		}
	}
}
