package config

import (
	"bytes"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDefault(t *testing.T) {
	c := Default()
	for _, tt := range []struct {
		name string
		got  any
		want any
	}{
		{"listen", c.Listen, "127.0.0.1:3128"},
		{"allow_clients", c.AllowClients, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}},
		{"allow_dest", len(c.AllowDest), 0},
		{"connect_ports", c.ConnectPorts, []int{443}},
		{"access_log", c.AccessLog, "-"},
		{"log_format", c.LogFormat, "squid"},
		{"log_level", c.LogLevel, "info"},
		{"upstream_timeout", c.UpstreamTimeout.D(), 30 * time.Second},
		{"connect_timeout", c.ConnectTimeout.D(), 10 * time.Second},
		{"idle_timeout", c.IdleTimeout.D(), 2 * time.Minute},
		{"header_timeout", c.HeaderTimeout.D(), 10 * time.Second},
		{"tunnel_idle_timeout", c.TunnelIdleTimeout.D(), 10 * time.Minute},
		{"drain_timeout", c.DrainTimeout.D(), 15 * time.Second},
		{"max_header_bytes", int64(c.MaxHeaderBytes), int64(64 << 10)},
		{"via_pseudonym", c.ViaPseudonym, ""},
		{"forwarded_for", c.ForwardedFor, "off"},
		{"upstream.max_idle_per_host", c.Upstream.MaxIdlePerHost, 256},
		{"upstream.max_idle", c.Upstream.MaxIdle, 4096},
		{"upstream.idle_conn_timeout", c.Upstream.IdleConnTimeout.D(), 90 * time.Second},
		{"upstream.max_conns_per_host", c.Upstream.MaxConnsPerHost, 0},
	} {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a := Default()
	a.AllowClients[0] = netip.MustParsePrefix("0.0.0.0/0")
	a.ConnectPorts[0] = 25
	b := Default()
	if b.AllowClients[0].String() != "127.0.0.0/8" || b.ConnectPorts[0] != 443 {
		t.Errorf("changing one Default() changed the next: %v %v", b.AllowClients, b.ConnectPorts)
	}
}

func TestParseFull(t *testing.T) {
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(data, "full.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Config{
		Listen: "[::1]:8080",
		AllowClients: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"),
			netip.MustParsePrefix("192.168.1.7/32"),
			netip.MustParsePrefix("fd00::/8"),
		},
		AllowDest: []netip.Prefix{
			netip.MustParsePrefix("169.254.10.0/24"),
			netip.MustParsePrefix("::1/128"),
		},
		ConnectPorts:      []int{443, 8443, 563},
		AccessLog:         "/var/log/sluice/access.log",
		LogFormat:         "json",
		LogLevel:          "debug",
		UpstreamTimeout:   Duration(time.Minute),
		ConnectTimeout:    Duration(5 * time.Second),
		IdleTimeout:       0,
		HeaderTimeout:     Duration(90 * time.Second),
		TunnelIdleTimeout: Duration(time.Hour),
		DrainTimeout:      Duration(500 * time.Millisecond),
		MaxHeaderBytes:    128 * KiB,
		MaxBodyBytes:      100 * MiB,
		ViaPseudonym:      "edge-1",
		ForwardedFor:      "delete",
		Upstream: Upstream{
			MaxIdlePerHost:  16,
			MaxIdle:         1000,
			IdleConnTimeout: Duration(2 * time.Minute),
			MaxConnsPerHost: 64,
		},
		Cache: Cache{
			Dir:              "/var/cache/sluice",
			Mem:              1 * GiB,
			Disk:             100 * GiB,
			MaxObjectSize:    2 * GiB,
			MaxObjectSizeMem: 16 * MiB,
			HeuristicPercent: 20,
			HeuristicMax:     Duration(12 * time.Hour),
			PurgeClients:     []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
		},
		Filter: Filter{
			Block:      []string{"/etc/sluice/hosts", "https://lists.example/easylist.txt"},
			Allow:      []string{"/etc/sluice/allow.txt"},
			ReportOnly: true,
			Refresh:    Duration(6 * time.Hour),
			Dir:        "/var/lib/sluice/lists",
		},
		Privacy: Privacy{
			Level:          "strict",
			Sites:          map[string]string{".bank.example": "off", "news.example": "standard"},
			UserAgent:      "Mozilla/5.0 (X11; Linux x86_64) Generic",
			TrackingParams: []string{"pk_*", "ref"},
		},
		Rewrite: Rewrite{
			Headers: []HeaderRule{
				{Match: RuleMatch{Host: ".example.com"}, Phase: "response", Action: "remove", Name: "Server"},
				{Match: RuleMatch{URL: "http://*/api/*"}, Phase: "request", Action: "replace", Name: "User-Agent", Regex: "Chrome/([0-9]+)", Value: "Chrome/$1"},
			},
			HTML: []HTMLRule{{
				Match:      RuleMatch{Host: "news.example", ContentType: []string{"text/html"}},
				Remove:     []string{"div.ad", "#banner"},
				InjectBody: "<p>served by sluice</p>",
				Replace:    []TextReplace{{Regex: "colour", With: "color"}},
			}},
		},
		Auth: Auth{Htpasswd: "/etc/sluice/htpasswd", Realm: "Example proxy", ProbeResistance: true, KnockHost: "knock-7f3a.example"},
		Access: Access{Default: "deny", Rules: []AccessRule{
			{Action: "allow", Users: []string{"admin"}, Dest: []string{"private"}},
			{Action: "deny", Dest: []string{"private", "cgnat", "203.0.113.0/24"}},
			{Action: "allow", Users: []string{"*"}, Clients: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
				Methods: []string{"GET", "CONNECT"}, Hosts: []string{".example.com"}, Ports: []string{"80", "443", "8000-8999"}},
		}},
		Limits: Limits{MaxConns: 20000, MaxConnsPerClient: 64, RequestsPerSecond: 50, Burst: 200},
		Admin: Admin{Listen: "127.0.0.1:9090", Clients: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, Hosts: []string{"proxy.corp.example"},
			Pprof: true, PACBypass: []string{".corp.example", "intranet.example"}},
		Redis: Redis{Addrs: []string{"10.0.0.5:6379", "10.0.0.6:6379"}, Cluster: true, Username: "sluice",
			Password: "not-a-real-secret", PasswordFile: "/etc/sluice/redis-password", Prefix: "corp:", TLS: true,
			TLSCA: "/etc/sluice/redis-ca.pem", TLSServerName: "redis.corp.example", Timeout: Duration(50 * time.Millisecond),
			MaxObjectSize: 2 * MiB},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", *got, *want)
	}
	// Every key is set to something other than its default, so a key the
	// decoder silently ignored would show up here.
	def := reflect.ValueOf(Default())
	gv := reflect.ValueOf(*got)
	for _, f := range fieldsOf(gv.Type()) {
		if reflect.DeepEqual(gv.Field(f.index).Interface(), def.Field(f.index).Interface()) {
			t.Errorf("testdata/full.yaml leaves %s at its default", f.name)
		}
	}
}

func TestParseEmpty(t *testing.T) {
	want := Default()
	for _, in := range []string{"", "\n\n", "# just a comment\n", "---\n", "---\n...\n", "~\n"} {
		got, err := Parse([]byte(in), "empty.yaml")
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("Parse(%q) = %+v, want the defaults", in, *got)
		}
	}
}

// docsExample returns the first ```yaml block of docs/configuration.md.
func docsExample(t testing.TB) []byte {
	t.Helper()
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(doc, []byte("\n```yaml\n"))
	if !ok {
		t.Fatal("docs/configuration.md has no ```yaml block")
	}
	block, _, ok := bytes.Cut(rest, []byte("\n```\n"))
	if !ok {
		t.Fatal("docs/configuration.md: the ```yaml block is not closed")
	}
	return append(block, '\n')
}

// TestDocsExample keeps docs/configuration.md honest: its example must
// parse, set every key, and show the defaults it claims to show.
func TestDocsExample(t *testing.T) {
	data := docsExample(t)
	got, err := Parse(data, "docs/configuration.md")
	if err != nil {
		t.Fatalf("the example in docs/configuration.md does not parse:\n%v", err)
	}
	if want := Default(); !reflect.DeepEqual(*got, want) {
		t.Errorf("the example in docs/configuration.md says it shows the defaults, but parses to\n%+v\nnot\n%+v", *got, want)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := prefix + n.Content[i].Value
			set[key] = true
			if n.Content[i+1].Kind == yaml.MappingNode {
				walk(n.Content[i+1], key+".")
			}
		}
	}
	walk(root.Content[0], "")
	var keys []string
	keyPaths(reflect.TypeFor[Config](), "", &keys)
	for _, k := range keys {
		if !set[k] {
			t.Errorf("the example in docs/configuration.md does not set %s", k)
		}
	}
}

// TestDocsCoverEveryKey checks that every key has its own section in
// docs/configuration.md.
func TestDocsCoverEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	keyPaths(reflect.TypeFor[Config](), "", &keys)
	if len(keys) != 67 {
		t.Errorf("got %d keys, want 67: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.Contains(string(doc), "\n### `"+k+"`\n") {
			t.Errorf("docs/configuration.md has no section \"### `%s`\"", k)
		}
	}
}

// TestMarshalRoundTrip checks that a Config written out as YAML (as the
// golden files do) reads back to the same Config.
func TestMarshalRoundTrip(t *testing.T) {
	full, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(full, "full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{"default": Default(), "full": *c} {
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(out, name)
		if err != nil {
			t.Fatalf("%s: reading back\n%s\nfailed: %v", name, out, err)
		}
		if !reflect.DeepEqual(*back, c) {
			t.Errorf("%s: got %+v, want %+v", name, *back, c)
		}
	}
}
