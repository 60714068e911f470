package access

import (
	"net/netip"
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	const name = "access.rules[2] (line 14)"
	tests := []struct {
		rule Rule
		want []string // substrings of the error, besides the rule's name
	}{
		{Rule{Users: []string{""}}, []string{`user ""`, `"-"`}},
		{Rule{Users: []string{"al ice"}}, []string{`user "al ice"`, "white space"}},
		{Rule{Users: []string{"alice:x"}}, []string{`user "alice:x"`, `":"`}},
		{Rule{Clients: []netip.Prefix{{}}}, []string{"client range", "not a valid address range"}},
		{Rule{Methods: []string{"get"}}, []string{`method "get"`, "upper case"}},
		{Rule{Methods: []string{""}}, []string{`method ""`, "empty"}},
		{Rule{Methods: []string{"GE T"}}, []string{`method "GE T"`, "token"}},
		{Rule{Methods: []string{"GET\r\n"}}, []string{`method "GET\r\n"`, "token"}},
		{Rule{Hosts: []string{"*"}}, []string{`host "*"`, "every host"}},
		{Rule{Hosts: []string{"exa mple.com"}}, []string{`host "exa mple.com"`, "white space"}},
		{Rule{Hosts: []string{"www.*.example.com"}}, []string{`host "www.*.example.com"`, `"*"`}},
		{Rule{Hosts: []string{""}}, []string{`host ""`, "empty"}},
		{Rule{Hosts: []string{"example.com:443"}}, []string{`host "example.com:443"`, "ports"}},
		{Rule{Ports: []string{"0"}}, []string{`port "0"`, "between 1 and 65535"}},
		{Rule{Ports: []string{"65536"}}, []string{`port "65536"`, "between 1 and 65535"}},
		{Rule{Ports: []string{"99999"}}, []string{`port "99999"`, "between 1 and 65535"}},
		{Rule{Ports: []string{"100000"}}, []string{`port "100000"`, "not a port"}},
		{Rule{Ports: []string{"-1"}}, []string{`port "-1"`, "not a port"}},
		{Rule{Ports: []string{"+443"}}, []string{`port "+443"`, "not a port"}},
		{Rule{Ports: []string{" 443"}}, []string{`port " 443"`, "not a port"}},
		{Rule{Ports: []string{"https"}}, []string{`port "https"`, "not a port"}},
		{Rule{Ports: []string{"9000-8000"}}, []string{`port "9000-8000"`, "ends before it starts"}},
		{Rule{Ports: []string{"8000-"}}, []string{`port "8000-"`, "not a port"}},
		{Rule{Ports: []string{"1-2-3"}}, []string{`port "1-2-3"`, "not a port"}},
		{Rule{Ports: []string{""}}, []string{`port ""`, "not a port"}},
		{Rule{Dest: []string{"privat"}}, []string{`dest "privat"`, "named set", "private", "loopback"}},
		{Rule{Dest: []string{"10.0.0.0/33"}}, []string{`dest "10.0.0.0/33"`, "CIDR"}},
		{Rule{Dest: []string{"10.0.0.0/8 "}}, []string{`dest "10.0.0.0/8 "`, "CIDR"}},
		{Rule{Dest: []string{"fe80::1%eth0"}}, []string{`dest "fe80::1%eth0"`, "zone"}},
		{Rule{Dest: []string{"example.com"}}, []string{`dest "example.com"`, "not an address"}},
		{Rule{Dest: []string{""}}, []string{`dest ""`, "not an address"}},
	}
	for _, tt := range tests {
		r := tt.rule
		r.Name = name
		l, err := Compile([]Rule{{Allow: true}, r}, true)
		if err == nil {
			t.Errorf("%+v: compiled, want an error", tt.rule)
			continue
		}
		if l != nil {
			t.Errorf("%+v: got a List with the error", tt.rule)
		}
		msg := err.Error()
		for _, w := range append([]string{name + ": "}, tt.want...) {
			if !strings.Contains(msg, w) {
				t.Errorf("got error %q, want it to contain %q", msg, w)
			}
		}
	}
}

func TestCompileReportsEveryProblem(t *testing.T) {
	_, err := Compile([]Rule{
		{Hosts: []string{"ok.example", "bad host"}, Ports: []string{"0"}},
		{Allow: true},
		{Methods: []string{"get"}, Name: "third"},
	}, true)
	if err == nil {
		t.Fatal("compiled, want an error")
	}
	want := []string{
		`access rule 1: host "bad host": `,
		`access rule 1: port "0": `,
		`third: method "get": `,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d: got %q, want it to start with %q", i+1, lines[i], w)
		}
	}
}

func TestCompileAccepts(t *testing.T) {
	_, err := Compile([]Rule{{
		Users:   []string{"alice", "*", "-", "bob@example.com", "ÄÖÜ"},
		Clients: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/8"), netip.MustParsePrefix("::ffff:10.0.0.0/104"), netip.MustParsePrefix("::/0")},
		Methods: []string{"GET", "CONNECT", "M-SEARCH", "PROPFIND", "X_CUSTOM~1"},
		Hosts:   []string{"example.com", ".example.com", "*.example.com", "EXAMPLE.COM.", "bücher.example", "xn--bcher-kva.example", "192.0.2.1", "::1", "[2001:db8::1]", "_srv.internal", "a-b.c-d"},
		Ports:   []string{"1", "65535", "443", "8000-8999", "80-80", "00080"},
		Dest:    []string{"private", "loopback", "10.0.0.0/8", "10.1.2.3/8", "192.0.2.1", "2001:db8::/32", "::ffff:10.0.0.0/104", "::ffff:192.0.2.1", "0.0.0.0/0", "::/0"},
	}}, false)
	if err != nil {
		t.Fatal(err)
	}
}

func TestCompileNormalises(t *testing.T) {
	l := compile(t, true, Rule{
		Clients: []netip.Prefix{netip.MustParsePrefix("::ffff:192.168.0.0/112"), netip.MustParsePrefix("10.9.9.9/8")},
		Dest:    []string{"::ffff:172.16.0.0/108", "10.1.2.3/16"},
	})
	r := l.rules[0]
	wantClients := []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("10.0.0.0/8")}
	for i, p := range r.clients {
		if p != wantClients[i] {
			t.Errorf("client %d: got %s, want %s", i, p, wantClients[i])
		}
	}
	wantDest := []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("10.1.0.0/16")}
	if len(r.dest.v6) != 0 || len(r.dest.v4) != 2 || r.dest.v4[0] != wantDest[0] || r.dest.v4[1] != wantDest[1] {
		t.Errorf("got dest %v %v, want %v", r.dest.v4, r.dest.v6, wantDest)
	}
}
