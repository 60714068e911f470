package rewrite

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestHeaderActions checks each action on a request and a response.
func TestHeaderActions(t *testing.T) {
	tests := []struct {
		name  string
		rule  HeaderRule
		in    http.Header
		field string
		want  []string // nil: the field is absent
	}{
		{"add appends a line", HeaderRule{Action: "add", Name: "x-tag", Value: "b"},
			http.Header{"X-Tag": {"a"}}, "X-Tag", []string{"a", "b"}},
		{"add to nothing", HeaderRule{Action: "add", Name: "X-Tag", Value: "b"},
			http.Header{}, "X-Tag", []string{"b"}},
		{"set replaces every line", HeaderRule{Action: "set", Name: "x-TAG", Value: "c"},
			http.Header{"X-Tag": {"a", "b"}}, "X-Tag", []string{"c"}},
		{"remove", HeaderRule{Action: "remove", Name: "X-Tag"},
			http.Header{"X-Tag": {"a", "b"}}, "X-Tag", nil},
		{"replace in each value", HeaderRule{Action: "replace", Name: "X-Tag", Regex: `(\w+)=1`, Value: "$1=0"},
			http.Header{"X-Tag": {"a=1, b=1", "c=2"}}, "X-Tag", []string{"a=0, b=0", "c=2"}},
		{"replace that empties a line drops it", HeaderRule{Action: "replace", Name: "X-Tag", Regex: `^secret$`, Value: ""},
			http.Header{"X-Tag": {"secret", "kept"}}, "X-Tag", []string{"kept"}},
		{"replace that empties every line drops the field", HeaderRule{Action: "replace", Name: "X-Tag", Regex: `.+`, Value: ""},
			http.Header{"X-Tag": {"a", "b"}}, "X-Tag", nil},
		{"replace with no match", HeaderRule{Action: "replace", Name: "X-Tag", Regex: `z`, Value: "y"},
			http.Header{"X-Tag": {"a"}}, "X-Tag", []string{"a"}},
	}
	for _, tt := range tests {
		for _, phase := range []string{"request", "response"} {
			t.Run(tt.name+"/"+phase, func(t *testing.T) {
				rule := tt.rule
				rule.Phase = phase
				rs := mustCompile(t, []HeaderRule{rule}, nil)
				req := newRequest(t, "GET", "http://example.com/")
				resp := newResponse(req, 200, nil)
				if phase == "request" {
					req.Header = tt.in.Clone()
					rs.Request(req)
					check(t, req.Header, tt.field, tt.want)
					rs.Response(req, resp)
				} else {
					resp.Header = tt.in.Clone()
					rs.Response(req, resp)
					check(t, resp.Header, tt.field, tt.want)
					rs.Request(req)
				}
			})
		}
	}
}

func check(t *testing.T, h http.Header, field string, want []string) {
	t.Helper()
	got, ok := h[field]
	if want == nil {
		if ok {
			t.Errorf("%s: got %q, want it removed", field, got)
		}
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %q, want %q", field, got, want)
	}
}

// TestSharedValues checks that set's value, shared between messages,
// does not leak from one message into another when a later step appends.
func TestSharedValues(t *testing.T) {
	rs := mustCompile(t, []HeaderRule{{Phase: "request", Action: "set", Name: "X-A", Value: "1"}}, nil)
	r1, r2 := newRequest(t, "GET", "http://a/"), newRequest(t, "GET", "http://a/")
	rs.Request(r1)
	rs.Request(r2)
	r1.Header.Add("X-A", "2")
	if got := r2.Header["X-A"]; !slices.Equal(got, []string{"1"}) {
		t.Errorf("the other request's X-A: got %q, want [1]", got)
	}
}

// TestMatch checks matching by URL glob, URL regex, host and content type.
func TestMatch(t *testing.T) {
	tests := []struct {
		match Match
		url   string
		ct    string
		want  bool
	}{
		{Match{}, "http://a.example/x", "", true},
		{Match{URL: "http://a.example/*"}, "http://a.example/x/y?q", "", true},
		{Match{URL: "http://a.example/*"}, "http://A.Example/", "", true},
		{Match{URL: "http://a.example/*"}, "http://a.example", "", true}, // an empty path is "/"
		{Match{URL: "http://a.example/*"}, "https://a.example/x", "", false},
		{Match{URL: "*://*.example/ads/*.js"}, "https://cdn.example/ads/x/y.js", "", true},
		{Match{URL: "*://*.example/ads/*.js"}, "https://cdn.example/ads/x/y.json", "", false},
		{Match{URL: "http://a.example/x"}, "http://a.example/x?", "", false},
		{Match{URL: "*a*a*"}, "http://a/", "", false},
		{Match{URL: "*a*a*"}, "http://a/a", "", true},
		{Match{URL: `/\.(js|css)(\?|$)/`}, "http://a.example/app.js?v=1", "", true},
		{Match{URL: `/\.(js|css)(\?|$)/`}, "http://a.example/app.json", "", false},
		{Match{URL: `/^https:/`}, "http://a.example/", "", false},
		{Match{Host: "example.com"}, "http://example.com:8080/", "", true},
		{Match{Host: "example.com"}, "http://www.example.com/", "", false},
		{Match{Host: "Example.COM."}, "http://EXAMPLE.com./", "", true},
		{Match{Host: ".example.com"}, "http://example.com/", "", true},
		{Match{Host: ".example.com"}, "http://a.b.example.com/", "", true},
		{Match{Host: ".example.com"}, "http://badexample.com/", "", false},
		{Match{Host: "::1"}, "http://[::1]:8080/", "", true},
		{Match{ContentType: []string{"text/html"}}, "http://a/", "text/html; charset=utf-8", true},
		{Match{ContentType: []string{"text/html"}}, "http://a/", "TEXT/HTML", true},
		{Match{ContentType: []string{"text/*"}}, "http://a/", "text/css", true},
		{Match{ContentType: []string{"text/*"}}, "http://a/", "texts/css", false},
		{Match{ContentType: []string{"image/png", "text/html"}}, "http://a/", "text/html", true},
		{Match{ContentType: []string{"text/html"}}, "http://a/", "", false},
		{Match{Host: "a", ContentType: []string{"text/html"}}, "http://b/", "text/html", false},
	}
	for _, tt := range tests {
		rs := mustCompile(t, []HeaderRule{{Match: tt.match, Phase: "response", Action: "set", Name: "X-Hit", Value: "1"}}, nil)
		req := newRequest(t, "GET", tt.url)
		resp := newResponse(req, 200, nil)
		if tt.ct != "" {
			resp.Header.Set("Content-Type", tt.ct)
		}
		rs.Response(req, resp)
		if got := resp.Header.Get("X-Hit") == "1"; got != tt.want {
			t.Errorf("%+v on %s (%s): got %v, want %v", tt.match, tt.url, tt.ct, got, tt.want)
		}
	}
}

// TestMatchRequestPhase checks a request rule matching by host and URL.
func TestMatchRequestPhase(t *testing.T) {
	rs := mustCompile(t, []HeaderRule{
		{Match: Match{Host: ".tracker.example"}, Phase: "request", Action: "remove", Name: "Cookie"},
		{Match: Match{URL: "*/api/*"}, Phase: "request", Action: "set", Name: "Accept", Value: "application/json"},
	}, nil)
	req := newRequest(t, "GET", "https://t.tracker.example/api/v1")
	req.Header.Set("Cookie", "id=1")
	rs.Request(req)
	if got := req.Header.Get("Cookie"); got != "" {
		t.Errorf("Cookie: got %q, want it removed", got)
	}
	if got := req.Header.Get("Accept"); got != "application/json" {
		t.Errorf("Accept: got %q, want application/json", got)
	}
	req = newRequest(t, "GET", "/api/x") // origin-form: the host is in Host
	req.Host = "T.Tracker.Example:8080"
	req.Header.Set("Cookie", "id=1")
	rs.Request(req)
	if got := req.Header.Get("Cookie"); got != "" {
		t.Errorf("origin-form request's Cookie: got %q, want it removed", got)
	}
	req = newRequest(t, "GET", "https://other.example/")
	req.Header.Set("Cookie", "id=1")
	rs.Request(req)
	if got := req.Header.Get("Cookie"); got != "id=1" {
		t.Errorf("other host's Cookie: got %q, want it kept", got)
	}
}

// TestAcceptEncoding checks that a request an HTML rule may apply to
// asks only for codings the rewriter can decode.
func TestAcceptEncoding(t *testing.T) {
	rs := testRules(t) // HTML rules for news.example
	tests := []struct{ url, in, want string }{
		{"http://news.example/", "gzip, deflate, br, zstd", "gzip, deflate, br"},
		{"http://news.example/", "zstd;q=1.0, gzip;q=0.5", "gzip;q=0.5"},
		{"http://news.example/", "zstd", "identity"},
		{"http://news.example/", "gzip, br", "gzip, br"},
		{"http://other.example/", "gzip, zstd", "gzip, zstd"},
	}
	for _, tt := range tests {
		req := newRequest(t, "GET", tt.url)
		req.Header.Set("Accept-Encoding", tt.in)
		rs.Request(req)
		if got := req.Header.Get("Accept-Encoding"); got != tt.want {
			t.Errorf("%s with %q: got %q, want %q", tt.url, tt.in, got, tt.want)
		}
	}
}

// TestResponseRulesAfterRewrite checks that response header rules see
// the rewritten response and match on the origin's Content-Type.
func TestResponseRulesAfterRewrite(t *testing.T) {
	rs := mustCompile(t, []HeaderRule{
		{Phase: "response", Action: "remove", Name: "ETag"},
		{Match: Match{ContentType: []string{"text/html"}}, Phase: "response", Action: "set", Name: "Content-Type", Value: "text/html; charset=utf-8"},
		{Match: Match{ContentType: []string{"text/html"}}, Phase: "response", Action: "add", Name: "X-Seen", Value: "1"},
	}, []HTMLRule{{InjectBody: "[B]"}})
	req := newRequest(t, "GET", "http://a.example/")
	resp := newResponse(req, 200, strings.NewReader("<p>x</p>"), "Content-Type: text/html", `ETag: "1"`)
	rs.Response(req, resp)
	if _, ok := resp.Header["Etag"]; ok {
		t.Error("ETag kept")
	}
	if got := resp.Header.Get("X-Seen"); got != "1" {
		t.Errorf("X-Seen: got %q, want 1 (matched on the origin's type)", got)
	}
}

// TestCompileErrors checks that every rejected rule says which one and why.
func TestCompileErrors(t *testing.T) {
	tests := []struct {
		headers []HeaderRule
		html    []HTMLRule
		want    string
	}{
		{[]HeaderRule{{Phase: "both", Action: "set", Name: "X"}}, nil, `headers[0]: phase "both": want request or response`},
		{[]HeaderRule{{Phase: "request", Action: "rename", Name: "X"}}, nil, `headers[0]: action "rename": want add, set, remove or replace`},
		{[]HeaderRule{{Phase: "request", Action: "set", Name: "X", Value: "ok"}, {Phase: "request", Action: "set", Name: "Bad Name"}}, nil,
			`headers[1]: name "Bad Name" is not a valid header field name`},
		{[]HeaderRule{{Phase: "request", Action: "set", Name: "content-length", Value: "1"}}, nil, `headers[0]: name Content-Length: the proxy manages this field; rules may not change it`},
		{[]HeaderRule{{Phase: "request", Action: "set", Name: "X", Value: "a\r\nInjected: 1"}}, nil, `headers[0]: value contains a control character (CR, LF, NUL…)`},
		{[]HeaderRule{{Phase: "request", Action: "remove", Name: "X", Value: "v"}}, nil, `headers[0]: remove takes no value`},
		{[]HeaderRule{{Phase: "request", Action: "replace", Name: "X"}}, nil, `headers[0]: replace needs a regex`},
		{[]HeaderRule{{Phase: "request", Action: "replace", Name: "X", Regex: "("}}, nil, "headers[0]: regex: error parsing regexp: missing closing ): `(`"},
		{[]HeaderRule{{Phase: "request", Action: "set", Name: "X", Regex: "a"}}, nil, `headers[0]: regex is only for replace, not set`},
		{[]HeaderRule{{Match: Match{ContentType: []string{"text/html"}}, Phase: "request", Action: "set", Name: "X"}}, nil, `headers[0]: content_type only applies to response rules`},
		{[]HeaderRule{{Match: Match{Host: "*.example.com"}, Phase: "request", Action: "set", Name: "X"}}, nil, `headers[0]: host "*.example.com": write .example.com to match it and its subdomains`},
		{[]HeaderRule{{Match: Match{Host: "example.com:80"}, Phase: "request", Action: "set", Name: "X"}}, nil, `headers[0]: host "example.com:80": want a host name such as example.com or .example.com, without scheme, port or path`},
		{[]HeaderRule{{Match: Match{URL: "/(/"}, Phase: "request", Action: "set", Name: "X"}}, nil, "headers[0]: url regex: error parsing regexp: missing closing ): `(`"},
		{[]HeaderRule{{Match: Match{ContentType: []string{"text/html; charset=utf-8"}}, Phase: "response", Action: "set", Name: "X"}}, nil, `headers[0]: content_type "text/html; charset=utf-8": want type/subtype or type/* without parameters`},
		{nil, []HTMLRule{{}}, `html[0]: the rule does nothing: give remove, inject_head, inject_body or replace`},
		{nil, []HTMLRule{{InjectBody: "x"}, {Remove: []string{"div", "div > p"}}}, `html[1]: remove[1] "div > p": combinators (descendant, >, +, ~) are not supported: select the element itself`},
		{nil, []HTMLRule{{Replace: []TextReplace{{Regex: "a*", With: "b"}}}}, `html[0]: replace[0] regex "a*" matches the empty string`},
		{nil, []HTMLRule{{Replace: []TextReplace{{With: "b"}}}}, `html[0]: replace[0]: empty regex`},
		{nil, []HTMLRule{{Match: Match{ContentType: []string{"text/plain"}}, InjectBody: "x"}}, `html[0]: content_type "text/plain" is not text/html or application/xhtml+xml; HTML rules only apply to HTML`},
	}
	for _, tt := range tests {
		_, err := Compile(tt.headers, tt.html)
		if err == nil {
			t.Errorf("want error %q, got none", tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("got error %q\n         want %q", err, tt.want)
		}
		var re *RuleError
		if !errors.As(err, &re) {
			t.Errorf("%v is not a *RuleError", err)
		}
	}
}

// TestEmpty checks Empty and that nil Rules do nothing.
func TestEmpty(t *testing.T) {
	var nilRules *Rules
	if !nilRules.Empty() {
		t.Error("nil Rules: Empty() = false")
	}
	nilRules.Request(newRequest(t, "GET", "http://a/"))
	nilRules.Response(nil, newResponse(nil, 200, nil))
	if rs := mustCompile(t, nil, nil); !rs.Empty() {
		t.Error("no rules: Empty() = false")
	}
	if rs := mustCompile(t, []HeaderRule{{Phase: "request", Action: "remove", Name: "X"}}, nil); rs.Empty() {
		t.Error("one rule: Empty() = true")
	}
}
