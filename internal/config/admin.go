package config

import (
	"net"
	"net/netip"
	"strings"
)

// Admin holds the admin listener. In the file they are keys under
// "admin:". It is off unless listen is set.
type Admin struct {
	// Listen is the admin listener's address, host:port, serving the
	// live status page (/), Prometheus metrics (/metrics), /api/stats,
	// /healthz, /readyz, the PAC file (/proxy.pac) and the purge and
	// reload actions. The default, "", has no admin listener. Use a
	// loopback address, like 127.0.0.1:9090, unless clients says who else
	// may reach it. Changing it needs a restart. Flag: --admin.
	Listen string `yaml:"listen"`

	// Clients are the address ranges allowed to use the admin listener;
	// others get 403. The default is loopback only: [127.0.0.0/8,
	// "::1"]. Browsers that fetch /proxy.pac must be in it too.
	Clients []netip.Prefix `yaml:"clients"`

	// Hosts are host names the status page and the actions may be opened
	// under, besides IP addresses and localhost, like "proxy.corp.example"
	// for http://proxy.corp.example:9090/. Requests under other names get
	// 421, so that a web page whose name an attacker points at this
	// listener (DNS rebinding) cannot read it or act on it. /metrics,
	// /healthz, /readyz and /proxy.pac answer under any name. "*" turns
	// the check off. The default is empty.
	Hosts []string `yaml:"hosts"`

	// Pprof serves Go's profiler under /debug/pprof/ on the admin
	// listener. The default is false. Profiles reveal internals and cost
	// CPU while taken; turn it on to diagnose, then off. Flag:
	// --admin-pprof.
	Pprof bool `yaml:"pprof"`

	// PACBypass lists domains the PAC file sends DIRECT, not through the
	// proxy: "example.com" for exactly that host, ".example.com" for it
	// and its subdomains. Loopback addresses and localhost always go
	// direct. The default is empty.
	PACBypass []string `yaml:"pac_bypass"`
}

func (a *Admin) check(v *checker) {
	if a.Listen != "" {
		if _, port, err := net.SplitHostPort(a.Listen); err != nil || port == "" {
			v.add("admin.listen", -1, "%q: want host:port, like 127.0.0.1:9090", a.Listen)
		}
	}
	v.prefixes("admin.clients", a.Clients)
	for i, h := range a.Hosts {
		if h != "*" && !isHostName(h) {
			v.add("admin.hosts", i, "%q is not a host name (or *)", h)
		}
	}
	for i, d := range a.PACBypass {
		if h := strings.TrimPrefix(d, "."); h == "" || !isHostName(h) {
			v.add("admin.pac_bypass", i, "%q is not a host name or .domain", d)
		}
	}
}
