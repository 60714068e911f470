package filter

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
)

// The synthetic lists stand in for EasyList and a large hosts file, whose
// licences are not ours to vendor. They are generated deterministically in
// the shapes those lists hold, in about the same proportions.

var syllables = []string{
	"ad", "tra", "ck", "met", "ri", "cs", "lo", "go", "pix", "el", "serv",
	"ing", "me", "dia", "net", "cdn", "stat", "da", "ta", "cli", "zo", "ne",
	"box", "hub", "vi", "deo", "an", "aly", "tic", "pro", "mo", "sy", "nc",
	"beam", "tag", "ban", "ner", "pop", "un", "der", "ma", "rk", "et", "ok",
}

var tlds = []string{"com", "com", "com", "net", "org", "io", "de", "co.uk", "com.au", "ru", "info", "xyz", "fr", "jp"}

var words = []string{
	"ads", "advert", "banner", "sponsor", "promo", "track", "pixel", "beacon",
	"popup", "affiliate", "adframe", "adserver", "adimg", "adview", "partner",
	"campaign", "impression", "click", "counter", "stats", "analytics", "widget",
}

type synth struct{ r *rand.Rand }

func newSynth(seed uint64) *synth { return &synth{rand.New(rand.NewPCG(seed, 42))} }

func (s *synth) pick(xs []string) string { return xs[s.r.IntN(len(xs))] }

func (s *synth) label() string {
	var b strings.Builder
	for range 2 + s.r.IntN(3) {
		b.WriteString(s.pick(syllables))
	}
	if s.r.IntN(4) == 0 {
		fmt.Fprint(&b, s.r.IntN(100))
	}
	return b.String()
}

func (s *synth) domain() string {
	d := s.label() + "." + s.pick(tlds)
	if s.r.IntN(3) == 0 {
		d = s.label() + "." + d
	}
	return d
}

// easyList returns an EasyList-shaped list: network rules (mostly
// "||domain^" and "||domain^$third-party", path and substring rules,
// exceptions with $domain=, a few regular expressions), rules a proxy
// skips, and cosmetic rules. Domains lists the domains of its "||domain^"
// rules.
func easyList(seed uint64) (list []byte, domains []string) {
	s := newSynth(seed)
	var b bytes.Buffer
	b.WriteString("[Adblock Plus 2.0]\n! Title: Synthetic EasyList\n! Expires: 4 days\n")
	for range 35000 {
		d := s.domain()
		domains = append(domains, d)
		fmt.Fprintf(&b, "||%s^\n", d)
	}
	for range 15000 {
		fmt.Fprintf(&b, "||%s^$third-party\n", s.domain())
	}
	for range 3000 {
		switch s.r.IntN(3) {
		case 0:
			fmt.Fprintf(&b, "||%s/%s/\n", s.domain(), s.pick(words))
		case 1:
			fmt.Fprintf(&b, "||%s^*/%s_\n", s.domain(), s.pick(words))
		default:
			fmt.Fprintf(&b, "|https://%s/%s.js|\n", s.domain(), s.label())
		}
	}
	for i := range 8000 {
		w, w2 := s.pick(words), s.pick(words)
		switch i % 9 {
		case 0:
			fmt.Fprintf(&b, "/%s/%s%d*.gif\n", w, w2, i)
		case 1:
			fmt.Fprintf(&b, "-%s-%dx%d.\n", w, 100+s.r.IntN(700), 50+s.r.IntN(600))
		case 2:
			fmt.Fprintf(&b, "&%s_%s%d=\n", w, w2, i)
		case 3:
			fmt.Fprintf(&b, "/%s%s%d.\n", w, w2, i)
		case 4:
			fmt.Fprintf(&b, "_%s_%s%d_\n", w, w2, i)
		case 5:
			fmt.Fprintf(&b, ".%s/%s%d.\n", s.label(), w, i)
		case 6:
			fmt.Fprintf(&b, "?%s%d=\n", w, i)
		case 7:
			fmt.Fprintf(&b, "/%s%d/*/%s^\n", w, i, w2)
		default:
			fmt.Fprintf(&b, "%s%s%d\n", w, w2, i) // no usable token: indexed by a gram
		}
	}
	for range 2000 {
		fmt.Fprintf(&b, "||%s^$script,third-party\n", s.domain())
	}
	for range 500 {
		fmt.Fprintf(&b, "||%s^$removeparam=utm_source\n", s.domain())
	}
	for range 1500 {
		fmt.Fprintf(&b, "@@||%s^$domain=%s|%s\n", s.domain(), s.domain(), s.domain())
	}
	for range 500 {
		fmt.Fprintf(&b, "@@||%s/%s.js\n", s.domain(), s.pick(words))
	}
	for range 100 {
		fmt.Fprintf(&b, "||%s^$important\n", s.domain())
	}
	for i := range 60 {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "/\\/%s\\/[0-9]{3,}\\/%s/\n", s.pick(words), s.label())
		case 1:
			fmt.Fprintf(&b, "/^https?:\\/\\/%s\\.[a-z]{2,}\\/[a-z0-9]{12,}\\.js/$third-party\n", s.label())
		default:
			fmt.Fprintf(&b, "/[?&]%s%d=[^&]+/\n", s.pick(words), i)
		}
	}
	for i := range 20000 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "##.%s-%s\n", s.pick(words), s.label())
		case 1:
			fmt.Fprintf(&b, "%s##div[id^=\"%s\"]\n", s.domain(), s.pick(words))
		case 2:
			fmt.Fprintf(&b, "%s#@#.%s\n", s.domain(), s.pick(words))
		default:
			fmt.Fprintf(&b, "%s#?#.%s:has(> a)\n", s.domain(), s.pick(words))
		}
	}
	return b.Bytes(), domains
}

// hostsFile returns a hosts-format list of n hosts, and the hosts.
func hostsFile(seed uint64, n int) (list []byte, hosts []string) {
	s := newSynth(seed)
	var b bytes.Buffer
	b.WriteString("# Synthetic hosts list\n127.0.0.1 localhost\n::1 localhost ip6-localhost\n0.0.0.0 0.0.0.0\n\n")
	for range n {
		h := s.domain()
		hosts = append(hosts, h)
		fmt.Fprintf(&b, "0.0.0.0 %s\n", h)
	}
	return b.Bytes(), hosts
}

// requests returns n requests in a realistic mix: mostly pages and assets
// of sites no list mentions, some to listed hosts, some whose paths match
// pattern rules; most with a known Site.
func requests(seed uint64, n int, listed, hosts []string) []Request {
	s := newSynth(seed)
	sites := make([]string, 200)
	for i := range sites {
		sites[i] = "www." + s.label() + "s." + s.pick([]string{"com", "org", "co.uk", "de"})
	}
	qs := make([]Request, n)
	for i := range qs {
		site := s.pick(sites)
		host := site
		var path string
		switch k := s.r.IntN(100); {
		case k < 70:
			if s.r.IntN(2) == 0 {
				host = "static." + strings.TrimPrefix(site, "www.")
			}
			path = s.pick([]string{
				fmt.Sprintf("/static/js/app.%08x.js", s.r.Uint32()),
				fmt.Sprintf("/images/%s/%d.jpg?w=640&h=480", s.label(), s.r.IntN(99999)),
				fmt.Sprintf("/api/v2/items?id=%d&lang=en&sort=desc", s.r.IntN(99999)),
				fmt.Sprintf("/news/2024/%02d/%s-%s-%s.html?utm_source=feed&utm_medium=rss", 1+s.r.IntN(12), s.label(), s.label(), s.label()),
				"/",
				"/favicon.ico",
				fmt.Sprintf("/assets/fonts/%s-regular.woff2", s.label()),
			})
		case k < 80:
			host, path = s.pick(hosts), "/"
		case k < 90:
			host, path = s.pick(listed), fmt.Sprintf("/%s.js?cb=%d", s.label(), s.r.IntN(1e6))
		default:
			path = s.pick([]string{
				fmt.Sprintf("/ads/banner%d.gif", s.r.IntN(8000)),
				fmt.Sprintf("/img/promo-%dx%d.png", 100+s.r.IntN(700), 50+s.r.IntN(600)),
				fmt.Sprintf("/p?impression_click%d=1", s.r.IntN(8000)),
				fmt.Sprintf("/w/adimg%d/x/stats.gif", s.r.IntN(8000)),
			})
		}
		qs[i] = Request{URL: "https://" + host + path, Host: host}
		if s.r.IntN(10) < 7 {
			qs[i].Site = site
		}
	}
	return qs
}

// bigLists are the synthetic EasyList and a 100,000-host list, generated
// once per test binary.
type bigLists struct {
	easyList, hosts []byte
	listed          []string // the EasyList's "||domain^" domains
	hostNames       []string
}

var big = sync.OnceValue(func() *bigLists {
	el, listed := easyList(1)
	hf, hosts := hostsFile(2, 100000)
	return &bigLists{el, hf, listed, hosts}
})
