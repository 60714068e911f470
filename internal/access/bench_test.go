package access

import (
	"fmt"
	"net/netip"
	"testing"
)

// benchRules returns the lists BenchmarkDecide runs against: none, a
// typical hand-written policy, and 200 host rules such as a generated
// per-site policy.
func benchRules(b *testing.B) map[string]*List {
	hosts := make([]Rule, 200)
	for i := range hosts {
		hosts[i] = Rule{Allow: i%2 == 0, Hosts: []string{fmt.Sprintf(".site%d.example", i), fmt.Sprintf("www.other%d.example", i)}}
	}
	return map[string]*List{
		"rules=0": compile(b, true),
		"rules=10": compile(b, true,
			Rule{Allow: false, Dest: []string{"169.254.169.254"}},
			Rule{Allow: true, Users: []string{"alice", "bob"}, Dest: []string{"private"}},
			Rule{Allow: false, Dest: []string{"private", "loopback", "link-local", "cgnat"}},
			Rule{Allow: true, Methods: []string{"CONNECT"}, Ports: []string{"443", "8443"}},
			Rule{Allow: false, Methods: []string{"CONNECT"}},
			Rule{Allow: false, Ports: []string{"1-79", "81-442", "444-1024"}},
			Rule{Allow: true, Clients: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}},
			Rule{Allow: false, Hosts: []string{".ads.example", "*.tracker.example"}},
			Rule{Allow: true, Users: []string{"*"}},
			Rule{Allow: false, Users: []string{"-"}},
		),
		"hosts=200": compile(b, true, hosts...),
	}
}

func BenchmarkDecide(b *testing.B) {
	q := Request{User: "carol", Client: netip.MustParseAddr("192.168.1.10"), Method: "GET", Host: "www.example.com", Port: 80}
	for _, name := range []string{"rules=0", "rules=10", "hosts=200"} {
		l := benchRules(b)[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.Decide(&q)
			}
		})
	}
	// The last host rule matches: every rule is tried.
	l := benchRules(b)["hosts=200"]
	last := q
	last.Host = "a.b.site199.example"
	b.Run("hosts=200/last", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l.Decide(&last)
		}
	})
	// Without the host index, for comparison.
	linear := variants(l)["linear"]
	b.Run("hosts=200/last/noindex", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			linear.Decide(&last)
		}
	})
	// One rule holding a large deny list, the Squid dstdomain way.
	big := make([]string, 10000)
	for i := range big {
		big[i] = fmt.Sprintf(".tracker%d.example", i)
	}
	l = compile(b, true, Rule{Allow: false, Hosts: big})
	b.Run("one-rule-10000-hosts", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l.Decide(&q)
		}
	})
}

func BenchmarkCheckAddr(b *testing.B) {
	l := benchRules(b)["rules=10"]
	q := Request{User: "alice", Client: netip.MustParseAddr("192.168.1.10"), Method: "GET", Host: "www.example.com", Port: 80}
	d := l.Decide(&q)
	if !d.NeedAddrs() {
		b.Fatal("decision needs no addresses")
	}
	for _, s := range []string{"93.184.215.14", "10.1.2.3", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "64:ff9b::a01:203"} {
		a := netip.MustParseAddr(s)
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d.CheckAddr(a)
			}
		})
	}
}
