package admin

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestPACText(t *testing.T) {
	o := (&fakes{}).options(t)
	o.PACBypass = []string{" .Corp.Example ", "*.internal.example", "printer.example.", "printer.example", "", ".", "[fd00::1]"}
	srv := serve(t, o)
	resp, body := fetch(t, "GET", srv.URL+"/proxy.pac", nil, nil)
	if got := resp.Header.Get("Content-Type"); got != "application/x-ns-proxy-autoconfig" {
		t.Errorf("Content-Type %q, want application/x-ns-proxy-autoconfig", got)
	}
	for _, want := range []string{
		`var proxy = "PROXY 127.0.0.1:3128";`,
		"var bypassHosts = {\n\t\"=fd00::1\": true,\n\t\"=printer.example\": true\n};",
		"var bypassDomains = {\n\t\"=corp.example\": true,\n\t\"=internal.example\": true\n};",
		"deliberately no DIRECT fallback",
		"function FindProxyForURL(url, host) {",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("PAC file does not contain %q:\n%s", want, body)
		}
	}
	for _, never := range []string{"dnsResolve", "isInNet", "myIpAddress", "; DIRECT"} {
		if strings.Contains(body, never) {
			t.Errorf("PAC file contains %q:\n%s", never, body)
		}
	}
}

func TestPACProxyAddr(t *testing.T) {
	tests := []struct {
		name, proxy, host string
		fallback          bool
		want              string
	}{
		{"as configured", "192.0.2.10:3128", "127.0.0.1:9090", false, `"PROXY 192.0.2.10:3128"`},
		{"a name", "proxy.corp.example:8080", "127.0.0.1:9090", false, `"PROXY proxy.corp.example:8080"`},
		{"unspecified v4, asked by IP", "0.0.0.0:3128", "127.0.0.1:9090", false, `"PROXY 127.0.0.1:3128"`},
		{"unspecified v4, asked by name", "0.0.0.0:3128", "proxy.corp.example:9090", false, `"PROXY proxy.corp.example:3128"`},
		{"unspecified v6, asked by v6", "[::]:3128", "[fd00::5]:9090", false, `"PROXY [fd00::5]:3128"`},
		{"empty host, asked without port", ":3128", "wpad.corp.example", false, `"PROXY wpad.corp.example:3128"`},
		{"v6 proxy", "[2001:db8::1]:3128", "x", false, `"PROXY [2001:db8::1]:3128"`},
		{"fallback", "192.0.2.10:3128", "x", true, `"PROXY 192.0.2.10:3128; DIRECT"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := (&fakes{}).options(t)
			o.ProxyAddr, o.PACFallback = tt.proxy, tt.fallback
			resp, body := fetch(t, "GET", serve(t, o).URL+"/proxy.pac", nil, map[string]string{"Host": tt.host})
			if resp.StatusCode != 200 {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			if want := "var proxy = " + tt.want + ";"; !strings.Contains(body, want) {
				t.Errorf("PAC file lacks %q:\n%s", want, body)
			}
		})
	}

	f := &fakes{}
	o := f.options(t)
	o.ProxyAddr = "no-port"
	if resp, _ := fetch(t, "GET", serve(t, o).URL+"/proxy.pac", nil, nil); resp.StatusCode != 500 {
		t.Errorf("bad ProxyAddr: status %d, want 500", resp.StatusCode)
	}
	if !strings.Contains(f.logged(), "no-port") {
		t.Errorf("bad ProxyAddr not logged: %q", f.logged())
	}
}

// TestPACUnderNode runs the generated PAC file in node, as a browser
// would, with the host names browsers pass to FindProxyForURL.
func TestPACUnderNode(t *testing.T) {
	node := needNode(t)
	o := (&fakes{}).options(t)
	o.PACBypass = []string{".corp.example", "printer.example"}
	_, pac := fetch(t, "GET", serve(t, o).URL+"/proxy.pac", nil, nil)

	const proxy = "PROXY 127.0.0.1:3128"
	cases := map[string]string{
		"example.com":            proxy,
		"www.example.com":        proxy,
		"intranet":               "DIRECT", // plain host name
		"localhost":              "DIRECT",
		"LOCALHOST":              "DIRECT",
		"app.localhost":          "DIRECT",
		"localhost.example.com":  proxy,
		"127.0.0.1":              "DIRECT",
		"127.1.2.3":              "DIRECT",
		"127.0.0.1.nip.io":       proxy,
		"128.0.0.1":              proxy,
		"::1":                    "DIRECT",
		"[::1]":                  "DIRECT",
		"::ffff:7f00:1":          "DIRECT",
		"2001:db8::1":            proxy, // no dots, yet not a plain host name
		"[2001:db8::1]":          proxy,
		"corp.example":           "DIRECT",
		"wiki.corp.example":      "DIRECT",
		"a.b.corp.example":       "DIRECT",
		"corp.example.":          "DIRECT",
		"notcorp.example":        proxy,
		"corp.example.attacker":  proxy,
		"printer.example":        "DIRECT",
		"color.printer.example":  proxy, // exact entry: the host only
		"constructor.example":    proxy,
		"hasOwnProperty.example": proxy,
		"__proto__.example":      proxy,
	}

	hosts := make([]string, 0, len(cases))
	for h := range cases {
		hosts = append(hosts, h)
	}
	hostsJSON, _ := json.Marshal(hosts)
	script := pac + "\nvar hosts = " + string(hostsJSON) + ";\nvar out = {};\n" +
		"for (var i = 0; i < hosts.length; i++) out[hosts[i]] = FindProxyForURL('http://' + hosts[i] + '/', hosts[i]);\n" +
		"console.log(JSON.stringify(out));\n"
	file := filepath.Join(t.TempDir(), "proxy.pac.js")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	outb, err := exec.Command(node, file).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, outb)
	}
	var got map[string]string
	if err := json.Unmarshal(outb, &got); err != nil {
		t.Fatalf("node printed %q: %v", outb, err)
	}
	for host, want := range cases {
		if got[host] != want {
			t.Errorf("FindProxyForURL(%q) = %q, want %q", host, got[host], want)
		}
	}
}

// needNode returns node's path. Without node the test skips, except under
// CI=true, where .ci/run installs it and its absence is a failure.
func needNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not on PATH (apt-get install nodejs); CI=true requires it")
		}
		t.Skip("node is not on PATH (apt-get install nodejs)")
	}
	return node
}
