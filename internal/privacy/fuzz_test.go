package privacy

import (
	"slices"
	"strings"
	"testing"
)

// FuzzStripParams feeds arbitrary queries to the tracking-parameter
// remover. Seeds are in testdata/fuzz/FuzzStripParams. The result is
// checked against a plain reference: split on '&', decode each name without
// a length limit, compare with every pattern.
func FuzzStripParams(f *testing.F) {
	extra := []string{"ref_src", "x_*"}
	m, err := newMatcher(extra)
	if err != nil {
		f.Fatal(err)
	}
	patterns := slices.Concat(builtinParams, extra)
	f.Fuzz(func(t *testing.T, q string) {
		got, changed := m.strip(q)
		if len(got) > len(q) {
			t.Fatalf("strip(%q) = %q: longer than its input", q, got)
		}
		if changed != (got != q) {
			t.Fatalf("strip(%q) = %q, changed %v", q, got, changed)
		}
		if again, changed2 := m.strip(got); again != got || changed2 {
			t.Fatalf("strip(%q) = %q, then %q (changed %v): not idempotent", q, got, again, changed2)
		}
		var want []string
		for piece := range strings.SplitSeq(q, "&") {
			if !isTracking(piece, patterns) {
				want = append(want, piece)
			}
		}
		if !changed {
			if got != q {
				t.Fatalf("strip(%q) = %q without reporting a change", q, got)
			}
			if len(want) != strings.Count(q, "&")+1 {
				t.Fatalf("strip(%q) kept a tracking parameter", q)
			}
			return
		}
		want = slices.DeleteFunc(want, func(s string) bool { return s == "" })
		if w := strings.Join(want, "&"); got != w {
			t.Fatalf("strip(%q): got %q, want %q", q, got, w)
		}
	})
}

// isTracking is the reference for matcher.tracking.
func isTracking(param string, patterns []string) bool {
	name, _, _ := strings.Cut(param, "=")
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '+' {
			c = ' '
		} else if c == '%' && i+2 < len(name) && ishex(name[i+1]) && ishex(name[i+2]) {
			c = unhex(name[i+1])<<4 | unhex(name[i+2])
			i += 2
		}
		b.WriteByte(c)
	}
	dec := b.String()
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(dec, prefix) {
				return true
			}
		} else if dec == p && dec != "" {
			return true
		}
	}
	return false
}

// FuzzRequest applies Standard and Strict to requests with arbitrary
// Referer, Origin and query. Seeds are in testdata/fuzz/FuzzRequest.
// Request must not panic, must leave a same-site Cookie alone, must only
// ever shorten a Referer to a prefix-like origin, and must be a fixed
// point: a second pass changes nothing more.
func FuzzRequest(f *testing.F) {
	var ps []*Policy
	for _, l := range []Level{Standard, Strict} {
		p, err := New(Options{Default: l})
		if err != nil {
			f.Fatal(err)
		}
		ps = append(ps, p)
	}
	f.Fuzz(func(t *testing.T, host, query, referer, origin string) {
		for _, p := range ps {
			r := request(t, "http://example.com/", "")
			r.URL.Host, r.URL.RawQuery = host, query
			r.Header["Referer"] = []string{referer}
			r.Header["Origin"] = []string{origin}
			r.Header["Cookie"] = []string{"s=1"}
			c := p.Request(r)
			if len(r.URL.RawQuery) > len(query) {
				t.Fatalf("query %q became %q", query, r.URL.RawQuery)
			}
			if c&ThirdParty == 0 && r.Header.Get("Cookie") != "s=1" {
				t.Fatalf("first-party request lost its Cookie (referer %q, origin %q, host %q)", referer, origin, host)
			}
			if got := r.Header.Get("Origin"); got != origin {
				t.Fatalf("Origin: got %q, want %q", got, origin)
			}
			if got := r.Header.Get("Referer"); got != "" && got != referer {
				o, ok := parseOrigin(referer)
				if !ok || got != o.trimmed() || len(got) > len(referer) {
					t.Fatalf("Referer %q became %q", referer, got)
				}
			}
			q, hdr := r.URL.RawQuery, format(r.Header)
			c2 := p.Request(r)
			if r.URL.RawQuery != q || format(r.Header) != hdr {
				t.Fatalf("second pass changed the request (%q): query %q → %q, header %q → %q", c2, q, r.URL.RawQuery, hdr, format(r.Header))
			}
		}
	})
}
