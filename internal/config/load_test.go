package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// want is an expected problem: its line and key exactly, and a part of its
// message.
type want struct {
	line int
	key  string
	msg  string
}

func checkProblems(t *testing.T, err error, file string, wants []want) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T), want *Error", err, err)
	}
	if len(e.Problems) != len(wants) {
		t.Fatalf("got %d problems, want %d:\n%v", len(e.Problems), len(wants), err)
	}
	for i, w := range wants {
		p := e.Problems[i]
		if p.File != file || p.Line != w.line || p.Key != w.key || !strings.Contains(p.Msg, w.msg) {
			t.Errorf("problem %d: got %q, want %s:%d: %s: ...%s...", i, p.String(), file, w.line, w.key, w.msg)
		}
	}
}

func TestParseProblems(t *testing.T) {
	for _, tt := range []struct {
		name  string
		in    string
		wants []want
	}{
		{"unknown key with suggestion", "listen: :3128\nconect_ports: [443]\n",
			[]want{{2, "conect_ports", "unknown key; did you mean connect_ports?"}}},
		{"unknown key ignoring case and dashes", "Allow-Clients: [10.0.0.0/8]\n",
			[]want{{1, "Allow-Clients", "did you mean allow_clients?"}}},
		{"unknown key without suggestion", "\n\nproxy_pass: x\n",
			[]want{{3, "proxy_pass", "unknown key"}}},
		{"unknown nested key", "upstream:\n  max_idle: 3\n  max_idel_per_host: 4\n",
			[]want{{3, "upstream.max_idel_per_host", "did you mean upstream.max_idle_per_host?"}}},
		{"nested key at top level", "max_conns_per_host: 8\n",
			[]want{{1, "max_conns_per_host", "unknown key here; did you mean upstream.max_conns_per_host?"}}},
		{"top-level key nested", "upstream:\n  connect_timeout: 3s\n",
			[]want{{2, "upstream.connect_timeout", "unknown key here; did you mean connect_timeout?"}}},
		{"bad duration", "log_level: info\nupstream_timeout: 30 seconds\n",
			[]want{{2, "upstream_timeout", `invalid duration "30 seconds"`}}},
		{"fractional bare duration", "connect_timeout: 1.5\n",
			[]want{{1, "connect_timeout", "invalid duration"}}},
		{"negative duration", "idle_timeout: -1s\n",
			[]want{{1, "idle_timeout", "must not be negative, not -1s"}}},
		{"zero header timeout", "header_timeout: 0\n",
			[]want{{1, "header_timeout", "must be longer than 0"}}},
		{"negative size", "\nmax_header_bytes: -5KiB\n",
			[]want{{2, "max_header_bytes", "must not be negative"}}},
		{"size in bytes too small", "max_header_bytes: 64\n",
			[]want{{1, "max_header_bytes", "must be at least 1KiB"}}},
		{"port out of range", "connect_ports:\n  - 443\n  - 70000\n",
			[]want{{3, "connect_ports", "port 70000 out of range 1-65535"}}},
		{"port out of range in flow list", "access_log: off\nconnect_ports: [443, 0]\n",
			[]want{{2, "connect_ports", "port 0 out of range 1-65535"}}},
		{"port not a number", "connect_ports:\n- https\n- 70000\n",
			[]want{{2, "connect_ports", `want a whole number, not "https"`}, {3, "connect_ports", "port 70000 out of range"}}},
		{"bad CIDR", "allow_clients:\n  - 10.0.0.0/33\n  - \"::1\"\n",
			[]want{{2, "allow_clients", "prefix length must be a number 0-32"}}},
		{"host name as range", "allow_dest: [localhost]\n",
			[]want{{1, "allow_dest", `invalid address range "localhost"`}}},
		{"empty allow_clients", "allow_clients: []\n",
			[]want{{1, "allow_clients", "no client could use the proxy"}}},
		{"bad log_format", "log_format: jsno\n",
			[]want{{1, "log_format", `must be squid, combined or json, not "jsno"; did you mean json?`}}},
		{"bad forwarded_for", "forwarded_for: yes\n",
			[]want{{1, "forwarded_for", "must be off, add, forwarded or delete"}}},
		{"bad via_pseudonym", "via_pseudonym: my proxy\n",
			[]want{{1, "via_pseudonym", "not an HTTP token"}}},
		{"listen without port", "listen: 127.0.0.1\n",
			[]want{{1, "listen", "want host:port"}}},
		{"listen bad port", "listen: :http\n",
			[]want{{1, "listen", `port "http"`}}},
		{"listen bare IPv6", "listen: \"::1:3128\"\n",
			[]want{{1, "listen", "brackets"}}},
		{"syntax error from the scanner", "listen: :3128\n\tlog_level: info\n",
			[]want{{2, "", "invalid YAML: found a tab character"}}},
		{"syntax error from the parser", "listen: :3128\nlog_level: info\n- x\n",
			[]want{{3, "", "invalid YAML: did not find expected key"}}},
		{"syntax error on line 1", "listen: [::1]:3128\n",
			[]want{{1, "", `quote values that start with "["`}}},
		{"unclosed flow list", "log_level: info\nallow_clients: [10.0.0.0/8\nlog_format: json\n",
			[]want{{2, "", "did not find expected ',' or ']'"}}},
		{"scanner error that reads like a parser error", "log_level: info\nlisten: &\n",
			[]want{{2, "", "did not find expected alphabetic or numeric character"}}},
		{"old Mac line ends", "log_level: info\rlisten: :1\rlog_format: xml\r",
			[]want{{3, "log_format", `not "xml"`}}},
		{"Unicode line separators", "log_level: info\u2028listen: :1\u0085log_format: xml\n",
			[]want{{3, "log_format", `not "xml"`}}},
		{"unknown anchor", "log_level: info\nlog_format: *fmt\n",
			[]want{{2, "", "unknown anchor 'fmt'"}}},
		{"control character", "log_level: info\nlisten: \x01\n",
			[]want{{2, "", "control character U+0001"}}},
		{"not UTF-8", "log_level: info\n\nlisten: \xff\n",
			[]want{{3, "", "not valid UTF-8"}}},
		{"list where a scalar is expected", "log_level: info\nlisten:\n  - 127.0.0.1:3128\n",
			[]want{{2, "listen", "want a text value, not a list"}}},
		{"mapping where a number is expected", "upstream:\n  max_idle: {a: 1}\n",
			[]want{{2, "upstream.max_idle", "want a whole number, not a mapping"}}},
		{"scalar where a list is expected", "allow_clients: 10.0.0.0/8\n",
			[]want{{1, "allow_clients", "want a list, like [10.0.0.0/8], not the value \"10.0.0.0/8\""}}},
		{"list in a list", "connect_ports: [[443]]\n",
			[]want{{1, "connect_ports", "want a port number in the list, not a list"}}},
		{"scalar where a mapping is expected", "upstream: 4\n",
			[]want{{1, "upstream", "want a mapping"}}},
		{"no value", "listen:\nallow_dest:\nupstream:\n",
			[]want{{1, "listen", "no value"}, {2, "allow_dest", "write [] for an empty list"}, {3, "upstream", "no value"}}},
		{"empty list item", "allow_clients:\n  - 10.0.0.0/8\n  -\n",
			[]want{{3, "allow_clients", "empty list item"}}},
		{"number too large", "upstream:\n  max_idle: 99999999999999999999\n",
			[]want{{2, "upstream.max_idle", "out of range"}}},
		{"negative count", "upstream:\n  max_conns_per_host: -1\n",
			[]want{{2, "upstream.max_conns_per_host", "must not be negative"}}},
		{"key given twice", "log_level: info\nlisten: :1\nlog_level: debug\n",
			[]want{{3, "log_level", "key given twice; first on line 1"}}},
		{"merge key", "upstream:\n  <<: {max_idle: 1}\n",
			[]want{{2, "upstream.<<", "merge keys are not supported"}}},
		{"list as key", "[a]: 1\n",
			[]want{{1, "", "keys must be plain names"}}},
		{"bad value through an alias", "log_level: &lvl loud\n",
			[]want{{1, "log_level", `not "loud"`}}},
		{"second document", "log_level: info\n---\nlog_format: json\n",
			[]want{{2, "", "second YAML document"}}},
		{"top level is a list", "- listen: :3128\n",
			[]want{{1, "", "must be a mapping of keys to values"}}},
		{"top level is a scalar", "\nsluice\n",
			[]want{{2, "", `not the value "sluice"`}}},
		{"several problems, all reported in file order", strings.Join([]string{
			"listn: :3128",                // 1
			"connect_ports: [443, 99999]", // 2
			"allow_clients:",              // 3
			"  - 10.0.0.0/8",              // 4
			"  - 300.1.1.1",               // 5
			"upstream_timeout: soon",      // 6
			"max_header_bytes: -1",        // 7
			"log_format: xml",             // 8
			"upstream:",                   // 9
			"  max_idle: -3",              // 10
			"  idle_conn_timeout: 1x",     // 11
			"header_timeout: 0s",          // 12
			"",
		}, "\n"), []want{
			{1, "listn", "did you mean listen?"},
			{2, "connect_ports", "port 99999 out of range"},
			{5, "allow_clients", `"300.1.1.1"`},
			{6, "upstream_timeout", "invalid duration"},
			{7, "max_header_bytes", "must not be negative"},
			{8, "log_format", `not "xml"`},
			{10, "upstream.max_idle", "must not be negative"},
			{11, "upstream.idle_conn_timeout", "invalid duration"},
			{12, "header_timeout", "must be longer than 0"},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in), "sluice.yaml")
			if c != nil {
				t.Errorf("got a Config with an error")
			}
			checkProblems(t, err, "sluice.yaml", tt.wants)
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, tt := range []struct {
		name  string
		in    string
		check func(*Config) bool
	}{
		{"all interfaces", "listen: :3128\n", func(c *Config) bool { return c.Listen == ":3128" }},
		{"host name", "listen: proxy.example.com:3128\n", func(c *Config) bool { return c.Listen == "proxy.example.com:3128" }},
		{"IPv6 with zone", `listen: "[fe80::1%eth0]:3128"` + "\n", func(c *Config) bool { return c.Listen == "[fe80::1%eth0]:3128" }},
		{"port 0", "listen: 127.0.0.1:0\n", func(c *Config) bool { return c.Listen == "127.0.0.1:0" }},
		{"bare IPv6 in a block list", "allow_clients:\n  - ::1\n  - fe80::/10\n", func(c *Config) bool {
			return len(c.AllowClients) == 2 && c.AllowClients[1].String() == "fe80::/10"
		}},
		{"unquoted off", "forwarded_for: off\naccess_log: off\n", func(c *Config) bool { return c.ForwardedFor == "off" && c.AccessLog == "off" }},
		{"seconds", "upstream_timeout: 45\n", func(c *Config) bool { return c.UpstreamTimeout.D() == 45*time.Second }},
		{"quoted number", "upstream:\n  max_idle: \"12\"\n", func(c *Config) bool { return c.Upstream.MaxIdle == 12 }},
		{"empty connect_ports", "connect_ports: []\n", func(c *Config) bool { return len(c.ConnectPorts) == 0 }},
		{"unknown key holding an anchor", "a: &t 20s\n", nil},
		{"aliases used", "connect_timeout: &t 20s\nheader_timeout: *t\nupstream: &u {max_idle: 7}\n", func(c *Config) bool {
			return c.HeaderTimeout.D() == 20*time.Second && c.Upstream.MaxIdle == 7
		}},
		{"bytes in max_header_bytes", "max_header_bytes: 8192\n", func(c *Config) bool { return c.MaxHeaderBytes == 8*KiB }},
		{"CRLF line ends", "listen: :8080\r\nlog_level: warn\r\n", func(c *Config) bool { return c.Listen == ":8080" && c.LogLevel == "warn" }},
		{"byte order mark", "\ufefflisten: :8080\n", func(c *Config) bool { return c.Listen == ":8080" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in), "sluice.yaml")
			if tt.check == nil {
				if err == nil {
					t.Fatalf("Parse(%q) accepted an unknown key", tt.in)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !tt.check(c) {
				t.Errorf("Parse(%q) = %+v", tt.in, *c)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(good, []byte("listen: :8080\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("listen: :8080\nlog_level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, []byte(strings.Repeat("#\n", maxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}

	c, err := Load(good)
	if err != nil {
		t.Fatalf("Load(good): %v", err)
	}
	if c.Listen != ":8080" {
		t.Errorf("got listen %q, want %q", c.Listen, ":8080")
	}

	_, err = Load(bad)
	checkProblems(t, err, bad, []want{{2, "log_level", `not "loud"`}})
	if got, want := err.Error(), bad+`:2: log_level: must be debug, info, warn or error, not "loud"`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	_, err = Load(big)
	checkProblems(t, err, big, []want{{0, "", "larger than 4MiB"}})

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*Config)
		key    string
		msg    string
	}{
		{"listen", func(c *Config) { c.Listen = "3128" }, "listen", "want host:port"},
		{"listen host", func(c *Config) { c.Listen = "1.2.3:80" }, "listen", `host "1.2.3"`},
		{"listen port", func(c *Config) { c.Listen = ":65536" }, "listen", "0-65535"},
		{"invalid prefix", func(c *Config) { c.AllowDest = []netip.Prefix{{}} }, "allow_dest", "invalid address range"},
		{"no clients", func(c *Config) { c.AllowClients = nil }, "allow_clients", "no client"},
		{"port", func(c *Config) { c.ConnectPorts = []int{-1} }, "connect_ports", "port -1 out of range 1-65535"},
		{"access log", func(c *Config) { c.AccessLog = "" }, "access_log", "empty"},
		{"log level", func(c *Config) { c.LogLevel = "INFO" }, "log_level", "did you mean info?"},
		{"upstream timeout", func(c *Config) { c.UpstreamTimeout = 0 }, "upstream_timeout", "longer than 0"},
		{"connect timeout", func(c *Config) { c.ConnectTimeout = -1 }, "connect_timeout", "negative"},
		{"tunnel idle", func(c *Config) { c.TunnelIdleTimeout = Duration(-time.Second) }, "tunnel_idle_timeout", "not -1s"},
		{"drain", func(c *Config) { c.DrainTimeout = -1 }, "drain_timeout", "negative"},
		{"size", func(c *Config) { c.MaxHeaderBytes = 0 }, "max_header_bytes", "at least 1KiB"},
		{"via", func(c *Config) { c.ViaPseudonym = "a/b" }, "via_pseudonym", "token"},
		{"forwarded", func(c *Config) { c.ForwardedFor = "" }, "forwarded_for", `not ""`},
		{"idle per host", func(c *Config) { c.Upstream.MaxIdlePerHost = -1 }, "upstream.max_idle_per_host", "negative"},
		{"idle", func(c *Config) { c.Upstream.MaxIdle = -1 }, "upstream.max_idle", "negative"},
		{"idle conn", func(c *Config) { c.Upstream.IdleConnTimeout = -1 }, "upstream.idle_conn_timeout", "negative"},
		{"conns", func(c *Config) { c.Upstream.MaxConnsPerHost = -1 }, "upstream.max_conns_per_host", "negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(&c)
			checkProblems(t, c.Validate(), "", []want{{0, tt.key, tt.msg}})
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	for _, listen := range []string{":3128", "0.0.0.0:80", "[::]:3128", "localhost:8080", "proxy-1.lan:3128", "127.0.0.1:0"} {
		c := Default()
		c.Listen = listen
		if err := c.Validate(); err != nil {
			t.Errorf("listen %q: %v", listen, err)
		}
	}
	c := Default()
	c.ViaPseudonym = "sluice-1.example!#$%&'*+^_`|~"
	c.IdleTimeout, c.TunnelIdleTimeout, c.DrainTimeout = 0, 0, 0
	c.ConnectPorts = nil
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Problems: []Problem{
		{File: "sluice.yaml", Line: 7, Key: "connect_ports", Msg: "port 70000 out of range 1-65535"},
		{File: "sluice.yaml", Msg: "file is too large"},
		{Key: "listen", Msg: "want host:port"},
		{File: "a.yaml", Line: 2, Key: "bad\nkey", Msg: "unknown key"},
	}}
	want := "sluice.yaml:7: connect_ports: port 70000 out of range 1-65535\n" +
		"sluice.yaml: file is too large\n" +
		"listen: want host:port\n" +
		`a.yaml:2: "bad\nkey": unknown key`
	if got := e.Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"listen", "allow_clients", "allow_dest", "log_format", "log_level"}
	for _, tt := range []struct{ in, want string }{
		{"listen", "listen"},
		{"lisen", "listen"},
		{"LISTEN", "listen"},
		{"allow-dest", "allow_dest"},
		{"allow_client", "allow_clients"},
		{"log_levle", "log_level"},
		{"logformat", "log_format"},
		{"lst", ""},
		{"allow", ""},
		{"", ""},
		{strings.Repeat("x", 1000), ""},
	} {
		if got := suggest(tt.in, keys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSyntaxHint(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{"\tmax_idle: 10", "tabs"},
		{"  \t max_idle: 10", "tabs"},
		{"listen: [::1]:3128", `"[::1]:3128"`},
		{"allow_clients: [::1]", `"[::1]:3128"`},
		{"access_log: -", `access_log: "-"`},
		{"access_log: - ", `access_log: "-"`},
		{"listen: :3128\t", ""},
		{"a: b: c", ""},
		{"", ""},
	} {
		got := syntaxHint(tt.line)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("syntaxHint(%q) = %q, want one with %q", tt.line, got, tt.want)
		}
	}
}
