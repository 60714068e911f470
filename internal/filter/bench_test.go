package filter

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

// load parses and compiles the big lists.
func (b *bigLists) load(tb testing.TB) (*Matcher, Stats) {
	el, err := Parse("easylist.txt", bytes.NewReader(b.easyList))
	if err != nil {
		tb.Fatal(err)
	}
	hf, err := Parse("hosts.txt", bytes.NewReader(b.hosts))
	if err != nil {
		tb.Fatal(err)
	}
	st := el.Stats()
	hs := hf.Stats()
	st.Hosts += hs.Hosts
	return Compile([]*List{el, hf}, nil), st
}

// heapCost returns how many bytes of heap a Matcher for the big lists
// holds, measured after a collection.
func heapCost(tb testing.TB, b *bigLists) (uint64, Stats) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, st := b.load(tb)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(m)
	return after.HeapAlloc - before.HeapAlloc, st
}

// BenchmarkLoad parses and compiles a synthetic EasyList (about 65,000
// network rules and 20,000 cosmetic ones) and a 100,000-host list.
func BenchmarkLoad(b *testing.B) {
	lists := big()
	heap, st := heapCost(b, lists)
	for b.Loop() {
		lists.load(b)
	}
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(st.Rules()), "rules")
}

// BenchmarkDecide decides a realistic mix of requests against the big
// lists.
func BenchmarkDecide(b *testing.B) {
	lists := big()
	m, _ := lists.load(b)
	qs := requests(3, 4096, lists.listed, lists.hostNames)
	blocked := 0
	for i := range qs {
		if m.Decide(&qs[i]).Blocked {
			blocked++
		}
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		m.Decide(&qs[i%len(qs)])
		i++
	}
	b.ReportMetric(100*float64(blocked)/float64(len(qs)), "%blocked")
}

// BenchmarkDecideConnect decides CONNECT requests, which only host rules
// answer.
func BenchmarkDecideConnect(b *testing.B) {
	lists := big()
	m, _ := lists.load(b)
	qs := requests(4, 4096, lists.listed, lists.hostNames)
	for i := range qs {
		qs[i] = Request{URL: "https://" + qs[i].Host + ":443/", Host: qs[i].Host, Connect: true}
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		m.Decide(&qs[i%len(qs)])
		i++
	}
}

// BenchmarkDecideHostile decides 64 KiB URLs built to make matching slow:
// a hot token repeated, one long run, every indexed word repeated, and a
// host of many labels. The proxy's front end admits request heads of up
// to 64 KiB.
func BenchmarkDecideHostile(b *testing.B) {
	lists := big()
	m, _ := lists.load(b)
	const size = 64 << 10
	fill := func(unit string) string { return strings.Repeat(unit, size/len(unit)) }
	for _, tc := range []struct{ name, url string }{
		{"repeated-token", "http://a.example/" + fill("/ads/")},
		{"long-run", "http://a.example/" + fill("a")},
		{"every-word", "http://a.example/" + fill(strings.Join(words, "/")+"/")},
		{"banner-prefix", "http://a.example/" + fill("/ads/banner1")},
		{"many-labels", "http://" + fill("a.")[:size/2] + "example/" + fill("/ads/")[:size/2]},
	} {
		q := &Request{URL: tc.url, Site: "site.example"}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.Decide(q)
			}
		})
	}
}

// TestBigListsBudget pins the memory budget: the big lists, at least
// 150,000 rules, must cost under 100 MiB of heap once compiled.
func TestBigListsBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the big lists")
	}
	heap, st := heapCost(t, big())
	if st.Rules() < 150000 {
		t.Errorf("got %d rules, want at least 150,000", st.Rules())
	}
	if st.Cosmetic != 20000 || st.Skipped != 2500 || st.Invalid != 0 {
		t.Errorf("got %+v, want 20,000 cosmetic, 2,500 skipped, none invalid", st)
	}
	if heap >= 100<<20 {
		t.Errorf("got %d MiB of heap, want under 100", heap>>20)
	}
}
