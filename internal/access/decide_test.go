package access

import (
	"fmt"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestFirstMatchWins(t *testing.T) {
	// The same request matches every rule; only order decides.
	for _, first := range []bool{true, false} {
		l := compile(t, !first,
			Rule{Allow: first, Hosts: []string{"example.com"}},
			Rule{Allow: !first, Hosts: []string{".example.com"}},
			Rule{Allow: !first},
		)
		d := l.Decide(&Request{Host: "example.com", Method: "GET", Port: 80})
		if d.Allowed() != first || d.Rule() != "r1" || d.NeedAddrs() {
			t.Errorf("first rule allows=%v: got allowed=%v by %q (need addrs %v), want allowed=%v by r1",
				first, d.Allowed(), d.Rule(), d.NeedAddrs(), first)
		}
	}
}

func TestFirstMatchWinsOverSpecificity(t *testing.T) {
	// A broader pattern before a narrower one wins: order, not
	// specificity, decides.
	l := compile(t, true,
		Rule{Allow: false, Hosts: []string{".example.com"}, Name: "broad"},
		Rule{Allow: true, Hosts: []string{"www.example.com"}, Name: "narrow"},
	)
	for how, l := range variants(l) {
		if d := l.Decide(&Request{Host: "www.example.com"}); d.Allowed() || d.Rule() != "broad" {
			t.Errorf("%s: got allowed=%v by %q, want denied by broad", how, d.Allowed(), d.Rule())
		}
	}
}

func TestConditionsAndOr(t *testing.T) {
	l := compile(t, true, Rule{
		Users:   []string{"alice", "bob"},
		Methods: []string{"GET", "POST"},
		Ports:   []string{"80", "8000-8999"},
		Hosts:   []string{"a.example", "b.example"},
		Clients: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16")},
	})
	base := Request{User: "bob", Client: netip.MustParseAddr("192.168.3.4"), Method: "POST", Host: "b.example", Port: 8999}
	if d := l.Decide(&base); d.Allowed() || d.Rule() != "r1" {
		t.Fatalf("all conditions hold: got allowed=%v by %q, want denied by r1", d.Allowed(), d.Rule())
	}
	// Breaking any one condition makes the rule miss.
	for name, change := range map[string]func(*Request){
		"user":   func(q *Request) { q.User = "carol" },
		"anon":   func(q *Request) { q.User = "" },
		"method": func(q *Request) { q.Method = "PUT" },
		"port":   func(q *Request) { q.Port = 9000 },
		"host":   func(q *Request) { q.Host = "c.example" },
		"client": func(q *Request) { q.Client = netip.MustParseAddr("172.16.0.1") },
	} {
		q := base
		change(&q)
		if d := l.Decide(&q); !d.Allowed() || d.Rule() != "" {
			t.Errorf("%s differs: got allowed=%v by %q, want the default", name, d.Allowed(), d.Rule())
		}
	}
}

func TestDefault(t *testing.T) {
	for _, def := range []bool{true, false} {
		for _, rules := range [][]Rule{nil, {{Allow: !def, Users: []string{"nobody"}}}} {
			l := compile(t, def, rules...)
			d := l.Decide(&Request{User: "alice", Host: "example.com", Port: 443, Method: "CONNECT"})
			if d.Allowed() != def || d.Rule() != "" || d.NeedAddrs() {
				t.Errorf("default %v, %d rules: got allowed=%v by %q (need %v), want %v by the default",
					def, len(rules), d.Allowed(), d.Rule(), d.NeedAddrs(), def)
			}
			if ok, rule := d.CheckAddr(netip.MustParseAddr("10.0.0.1")); ok != def || rule != "" {
				t.Errorf("default %v: CheckAddr got %v by %q", def, ok, rule)
			}
			if l.DefaultAllow() != def || l.Len() != len(rules) {
				t.Errorf("got DefaultAllow %v, Len %d", l.DefaultAllow(), l.Len())
			}
		}
	}
}

func TestNilListAndZeroDecision(t *testing.T) {
	var l *List
	d := l.Decide(&Request{Host: "localhost", Port: 22})
	if !d.Allowed() || d.NeedAddrs() || d.Rule() != "" {
		t.Errorf("nil list: got allowed=%v need=%v rule=%q, want allowed, no addresses, no rule", d.Allowed(), d.NeedAddrs(), d.Rule())
	}
	if ok, rule := d.CheckAddr(netip.MustParseAddr("127.0.0.1")); !ok || rule != "" {
		t.Errorf("nil list CheckAddr: got %v by %q, want allowed", ok, rule)
	}
	if !l.DefaultAllow() || l.Len() != 0 {
		t.Errorf("nil list: got DefaultAllow %v, Len %d", l.DefaultAllow(), l.Len())
	}
	var z Decision
	if z.Allowed() || z.NeedAddrs() || z.Rule() != "" {
		t.Errorf("zero Decision: got allowed=%v need=%v rule=%q, want denied", z.Allowed(), z.NeedAddrs(), z.Rule())
	}
	if ok, _ := z.CheckAddr(netip.MustParseAddr("192.0.2.1")); ok {
		t.Error("zero Decision: CheckAddr allowed, want denied")
	}
}

func TestNeedAddrs(t *testing.T) {
	deny := Rule{Allow: false, Dest: []string{"private"}}
	allow := Rule{Allow: true, Dest: []string{"10.1.0.0/16"}}
	tests := []struct {
		name  string
		def   bool
		rules []Rule
		need  bool
		allow bool
	}{
		{"deny dest, default allow", true, []Rule{deny}, true, true},
		{"deny dest, default deny", false, []Rule{deny}, false, false},
		{"allow dest, default deny", false, []Rule{allow}, true, false},
		{"dest rule after the decider", true, []Rule{{Allow: true}, deny}, false, true},
		{"dest rule for another user", true, []Rule{{Allow: false, Users: []string{"x"}, Dest: []string{"private"}}}, false, true},
		{"same verdict as the decider", true, []Rule{deny, {Allow: false}}, false, false},
		{"opposite verdict before the decider", true, []Rule{allow, deny, {Allow: false}}, true, false},
	}
	for _, tt := range tests {
		l := compile(t, tt.def, tt.rules...)
		d := l.Decide(&Request{Host: "example.com", Port: 80})
		if d.NeedAddrs() != tt.need || d.Allowed() != tt.allow {
			t.Errorf("%s: got need=%v allowed=%v, want need=%v allowed=%v", tt.name, d.NeedAddrs(), d.Allowed(), tt.need, tt.allow)
		}
	}
}

func TestCheckAddr(t *testing.T) {
	l := compile(t, true,
		Rule{Allow: true, Users: []string{"admin"}, Dest: []string{"10.1.0.0/16"}, Name: "admin-lab"},
		Rule{Allow: false, Dest: []string{"private"}, Name: "private"},
		Rule{Allow: true, Dest: []string{"10.2.0.0/16"}, Name: "shadowed"},
		Rule{Allow: false, Dest: []string{"2001:db8::/32", "::ffff:198.51.100.0/120"}, Name: "docs"},
		Rule{Allow: true, Hosts: []string{"ok.example"}, Name: "ok"},
		Rule{Allow: false, Dest: []string{"203.0.113.7"}, Name: "after-ok"},
	)
	tests := []struct {
		user, host, addr string
		allow            bool
		rule             string
	}{
		{"admin", "x", "10.1.2.3", true, "admin-lab"},
		{"admin", "x", "::ffff:10.1.2.3", true, "admin-lab"},
		{"admin", "x", "10.2.0.1", false, "private"},
		{"user", "x", "10.1.2.3", false, "private"},
		{"user", "x", "10.2.0.1", false, "private"}, // a later allow cannot undo it
		{"user", "x", "172.31.255.255", false, "private"},
		{"user", "x", "fd12::1", false, "private"},
		{"user", "x", "fd12::1%eth0", false, "private"},
		{"user", "x", "8.8.8.8", true, ""},
		{"user", "x", "2001:db8::53", false, "docs"},
		{"user", "x", "198.51.100.1", false, "docs"}, // mapped CIDR is IPv4
		{"user", "x", "::ffff:198.51.100.1", false, "docs"},
		{"user", "x", "203.0.113.7", false, "after-ok"},
		{"user", "ok.example", "203.0.113.7", true, "ok"}, // the decider comes first
		{"user", "ok.example", "10.0.0.1", false, "private"},
		{"user", "x", "", true, ""}, // an invalid address is in no range
	}
	for _, tt := range tests {
		d := l.Decide(&Request{User: tt.user, Host: tt.host, Port: 80, Method: "GET"})
		var a netip.Addr
		if tt.addr != "" {
			a = netip.MustParseAddr(tt.addr)
		}
		ok, rule := d.CheckAddr(a)
		if ok != tt.allow || rule != tt.rule {
			t.Errorf("%s to %s at %s: got %v by %q, want %v by %q", tt.user, tt.host, tt.addr, ok, rule, tt.allow, tt.rule)
		}
	}
}

func TestEmbeddedIPv4Forms(t *testing.T) {
	l := compile(t, true, Rule{Allow: false, Dest: []string{"10.0.0.0/8"}, Name: "ten"})
	d := l.Decide(&Request{Host: "x"})
	for _, tt := range []struct {
		addr string
		deny bool
	}{
		{"10.0.0.1", true},
		{"::ffff:10.0.0.1", true},   // IPv4-mapped
		{"::ffff:a00:1", true},      // the same, written in hex
		{"::10.0.0.1", true},        // IPv4-compatible
		{"64:ff9b::10.0.0.1", true}, // NAT64 well-known prefix
		{"2002:a00:1::1", true},     // 6to4
		{"2002:a00:1:ffff:ffff:ffff:ffff:ffff", true},
		{"2002:b00:1::1", false},                        // 6to4 of 11.0.0.1
		{"64:ff9b:1::a00:1", false},                     // local-use NAT64 prefix: not decoded
		{"2001:0:4136:e378:8000:63bf:f5ff:fffe", false}, // Teredo: not decoded
		{"::ffff:0:a00:1", false},                       // SIIT translated form: not decoded
		{"11.0.0.1", false},
	} {
		if ok, _ := d.CheckAddr(netip.MustParseAddr(tt.addr)); ok == tt.deny {
			t.Errorf("%s: got allowed=%v, want %v", tt.addr, ok, !tt.deny)
		}
	}
}

// TestManyDestRules covers lists with more Dest rules than the 64 a
// Decision records inline.
func TestManyDestRules(t *testing.T) {
	var rules []Rule
	for i := range 150 {
		rules = append(rules, Rule{
			Allow: true,
			Users: []string{"u" + strconv.Itoa(i), "all"},
			Dest:  []string{fmt.Sprintf("10.0.%d.0/24", i)},
			Name:  "lab" + strconv.Itoa(i),
		})
	}
	rules = append(rules, Rule{Allow: false, Dest: []string{"private"}, Name: "private"}, Rule{Allow: true, Users: []string{"stop"}, Name: "stop"})
	l := compile(t, true, rules...)
	for _, i := range []int{0, 63, 64, 65, 149} {
		u := "u" + strconv.Itoa(i)
		d := l.Decide(&Request{User: u, Host: "lab"})
		if !d.NeedAddrs() {
			t.Fatalf("%s: NeedAddrs false", u)
		}
		for j := range 150 {
			ok, rule := d.CheckAddr(netip.AddrFrom4([4]byte{10, 0, byte(j), 1}))
			want, wantRule := false, "private"
			if j == i {
				want, wantRule = true, "lab"+strconv.Itoa(i)
			}
			if ok != want || rule != wantRule {
				t.Fatalf("%s to lab %d: got %v by %q, want %v by %q", u, j, ok, rule, want, wantRule)
			}
		}
	}
	// "all" matches every lab rule; the first containing the address
	// decides.
	d := l.Decide(&Request{User: "all"})
	for _, j := range []int{0, 64, 100, 149} {
		if ok, rule := d.CheckAddr(netip.AddrFrom4([4]byte{10, 0, byte(j), 1})); !ok || rule != "lab"+strconv.Itoa(j) {
			t.Errorf("all to lab %d: got %v by %q", j, ok, rule)
		}
	}
	// A decider among the rules past 64 ends the walk there.
	rules = append(rules[:100:100], Rule{Allow: false, Users: []string{"all"}, Name: "cut"})
	l = compile(t, true, rules...)
	d = l.Decide(&Request{User: "all"})
	if ok, rule := d.CheckAddr(netip.MustParseAddr("10.0.99.1")); !ok || rule != "lab99" {
		t.Errorf("before the cut: got %v by %q, want allowed by lab99", ok, rule)
	}
	if ok, rule := d.CheckAddr(netip.MustParseAddr("10.0.120.1")); ok || rule != "cut" {
		t.Errorf("past the cut: got %v by %q, want denied by cut", ok, rule)
	}
}

// TestDecisionOutlivesList checks a Decision still answers from its own
// List after the proxy has moved on to another.
func TestDecisionOutlivesList(t *testing.T) {
	old := compile(t, true, Rule{Allow: false, Dest: []string{"private"}, Name: "old"})
	d := old.Decide(&Request{Host: "x"})
	old = compile(t, true, Rule{Allow: true, Name: "new"})
	runtime.GC()
	if ok, rule := d.CheckAddr(netip.MustParseAddr("10.0.0.1")); ok || rule != "old" {
		t.Errorf("got %v by %q, want denied by old", ok, rule)
	}
	if d := old.Decide(&Request{Host: "x"}); !d.Allowed() || d.Rule() != "new" {
		t.Errorf("new list: got %v by %q", d.Allowed(), d.Rule())
	}
}

func TestConcurrentUse(t *testing.T) {
	l := compile(t, true,
		Rule{Allow: false, Dest: []string{"private"}, Name: "private"},
		Rule{Allow: true, Hosts: []string{".example.com"}, Name: "example"},
	)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				d := l.Decide(&Request{Host: "www.example.com", User: strconv.Itoa(g)})
				if ok, rule := d.CheckAddr(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})); ok || rule != "private" {
					t.Errorf("got %v by %q", ok, rule)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations")
	}
	many := make([]Rule, 0, 200)
	for i := range 200 {
		many = append(many, Rule{Allow: i%2 == 0, Hosts: []string{fmt.Sprintf(".site%d.example", i)}, Dest: destEvery(i, 3)})
	}
	users := make([]string, 20)
	for i := range users {
		users[i] = "user" + strconv.Itoa(i)
	}
	lists := map[string]*List{
		"nil":   nil,
		"empty": compile(t, true),
		"mixed": compile(t, true,
			Rule{Allow: true, Users: users, Dest: []string{"private"}},
			Rule{Allow: false, Dest: []string{"private", "loopback"}},
			Rule{Allow: true, Methods: []string{"CONNECT"}, Ports: []string{"443"}},
			Rule{Allow: false, Methods: []string{"CONNECT"}},
			Rule{Allow: false, Clients: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")}},
		),
		"many": compile(t, true, many...),
	}
	reqs := []Request{
		{User: "user7", Client: netip.MustParseAddr("::ffff:192.0.2.1"), Method: "CONNECT", Host: "www.site199.example", Port: 443},
		{Client: netip.MustParseAddr("fe80::1%eth0"), Method: "GET", Host: "WWW.Example.COM.", Port: 80},
		{Method: "GET", Host: "2001:db8::1", Port: 80},
		{Method: "GET", Host: "192.0.2.1", Port: 80},
		{Method: "GET", Host: "0x7f.1", Port: 80},
		{Method: "GET", Host: "www.site7.example.123", Port: 80},
	}
	addrs := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("64:ff9b::a00:1"), netip.MustParseAddr("fe80::1%eth0")}
	for name, l := range lists {
		for i := range reqs {
			q := &reqs[i]
			if n := testing.AllocsPerRun(100, func() {
				d := l.Decide(q)
				for _, a := range addrs {
					d.CheckAddr(a)
				}
			}); n != 0 {
				t.Errorf("%s, request %d: got %v allocations, want 0", name, i, n)
			}
		}
	}
}

// destEvery gives every nth rule a Dest condition.
func destEvery(i, n int) []string {
	if i%n != 0 {
		return nil
	}
	return []string{fmt.Sprintf("10.%d.0.0/16", i%256)}
}

// TestHostIndex checks the host index against comparing patterns where
// their paths part: hosts matching more rules than a lookup collects,
// hosts longer than a name, upper case, IP literals, a rule listing the
// same name in several kinds.
func TestHostIndex(t *testing.T) {
	var rules []Rule
	for i := range 100 {
		rules = append(rules, Rule{Allow: i%3 == 0, Users: []string{"u" + strconv.Itoa(i%7)}, Hosts: []string{".example.com", "*.sub" + strconv.Itoa(i) + ".example.com"}})
	}
	rules = append(rules,
		Rule{Allow: true, Hosts: []string{"example.org", ".example.org", "*.example.org"}, Name: "org"},
		Rule{Allow: false, Hosts: []string{"192.0.2.1", "2001:db8::1"}, Name: "literals"},
		Rule{Allow: true, Hosts: []string{"." + strings.Repeat("a.", 120) + "com"}, Name: "long"},
	)
	l := compile(t, false, rules...)
	if l.index == nil {
		t.Fatal("no index")
	}
	hosts := []string{
		"example.com", "x.sub5.example.com", "X.SUB99.EXAMPLE.COM.", "sub5.example.com",
		"example.org", "www.example.org", "a.b.example.org", "EXAMPLE.ORG",
		"192.0.2.1", "::ffff:192.0.2.1", "[2001:db8::1]", "2001:db8::2",
		strings.Repeat("a.", 120) + "com", strings.Repeat("b.", 130) + "example.com",
		"", ".", "..example.org", "com",
	}
	for _, h := range hosts {
		for u := range 8 {
			q := Request{User: "u" + strconv.Itoa(u), Host: h}
			want := variants(l)["linear"].Decide(&q)
			got := l.Decide(&q)
			if got.Allowed() != want.Allowed() || got.Rule() != want.Rule() {
				t.Errorf("%s, host %q: indexed %v by %q, compared %v by %q", q.User, h, got.Allowed(), got.Rule(), want.Allowed(), want.Rule())
			}
		}
	}
	var buf [maxIndexed]int32
	h := prepareHost("x.sub5.example.com")
	if _, ok := l.index.lookup(&h, buf[:0]); ok {
		t.Error("a host matching 101 rules was looked up, want the fallback")
	}
	h = prepareHost("WWW.Example.ORG")
	if hits, ok := l.index.lookup(&h, buf[:0]); !ok || len(hits) != 1 || hits[0] != 100 {
		t.Errorf("got hits %v, %v, want [100]", hits, ok)
	}
}
