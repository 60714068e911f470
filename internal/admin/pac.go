package admin

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// pacScript is the PAC file without its proxy line, compiled once from
// Options.PACBypass: the proxy's address may depend on the request.
type pacScript struct {
	exact, domains string // JavaScript object literals keyed "=host"
}

// compilePAC sorts the bypass list into exact hosts and domains (a
// leading "." or "*." means the domain and its subdomains).
func compilePAC(bypass []string) pacScript {
	var exact, domains []string
	for _, b := range bypass {
		b = normalHost(b)
		b = strings.TrimPrefix(b, "*")
		if d, ok := strings.CutPrefix(b, "."); ok {
			if d != "" {
				domains = append(domains, d)
			}
		} else if b != "" {
			exact = append(exact, strings.TrimSuffix(strings.TrimPrefix(b, "["), "]"))
		}
	}
	return pacScript{exact: jsSet(exact), domains: jsSet(domains)}
}

// jsSet writes names as an ES3 object literal used as a set. Keys carry a
// "=" prefix so that no host name ("__proto__", "constructor") can collide
// with what every object inherits.
func jsSet(names []string) string {
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) == 0 {
		return "{}"
	}
	var b strings.Builder
	b.WriteString("{\n")
	for i, n := range names {
		k, _ := json.Marshal("=" + n) // a JSON string is a JavaScript string literal
		b.WriteString("\t")
		b.Write(k)
		b.WriteString(": true")
		if i < len(names)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}")
	return b.String()
}

// pacBody is the part of the PAC file that does not change. It is ES3, the
// dialect of the oldest PAC engines still in use (WinHTTP), and never
// resolves a name: dnsResolve and isInNet would cost a DNS lookup for every
// URL, and isInNet knows only IPv4.
//
// Plain host names (no dots, no colons) go DIRECT, as Squid's and most
// browsers' "bypass for simple host names" do: they are intranet or local
// names the proxy would refuse anyway. localhost, 127.0.0.0/8 and ::1
// (also as IPv4-mapped ::ffff:7f00:1) go DIRECT because the proxy refuses
// loopback destinations.
const pacBody = `function FindProxyForURL(url, host) {
	host = host.toLowerCase();
	if (host.charAt(0) == "[") host = host.substring(1, host.length - 1);
	if (host.charAt(host.length - 1) == ".") host = host.substring(0, host.length - 1);
	if (host.indexOf(".") < 0 && host.indexOf(":") < 0) return "DIRECT";
	if (/\.localhost$/.test(host)) return "DIRECT";
	if (/^127\.\d+\.\d+\.\d+$/.test(host)) return "DIRECT";
	if (host == "::1" || /^::ffff:(7f[0-9a-f]{2}:[0-9a-f]{1,4}|127\.\d+\.\d+\.\d+)$/.test(host)) return "DIRECT";
	if (bypassHosts.hasOwnProperty("=" + host)) return "DIRECT";
	for (var d = host; ; ) {
		if (bypassDomains.hasOwnProperty("=" + d)) return "DIRECT";
		var i = d.indexOf(".");
		if (i < 0) break;
		d = d.substring(i + 1);
	}
	return proxy;
}
`

// servePAC answers the proxy auto-configuration file (Netscape's format,
// still what every browser reads) pointing at Options.ProxyAddr.
//
// There is no DIRECT fallback unless Options.PACFallback: a proxy that
// enforces policy (blocking, authentication, logging) must not be
// bypassable by making it unreachable. The cost is that browsing stops
// while the proxy is down.
func (a *admin) servePAC(w http.ResponseWriter, r *http.Request) {
	if a.o.ProxyAddr == "" {
		http.Error(w, "404 not found: no proxy address configured", http.StatusNotFound)
		return
	}
	addr, err := pacProxyAddr(a.o.ProxyAddr, r.Host)
	if err != nil {
		a.log.Error("admin: PAC file", "proxy", a.o.ProxyAddr, "err", err)
		http.Error(w, "500 internal server error: the proxy address is not host:port", http.StatusInternalServerError)
		return
	}
	proxy := "PROXY " + addr
	if a.o.PACFallback {
		proxy += "; DIRECT"
	}
	q, _ := json.Marshal(proxy)
	var b strings.Builder
	b.WriteString("// Proxy auto-configuration for sluice, from its admin listener.\n")
	b.WriteString("// Loopback addresses, localhost, plain host names and the bypass lists\n")
	b.WriteString("// below go DIRECT; everything else goes through the proxy")
	if a.o.PACFallback {
		b.WriteString(",\n// or DIRECT when the proxy cannot be reached.\n")
	} else {
		b.WriteString(".\n// There is deliberately no DIRECT fallback: when the proxy is down,\n// browsing stops rather than bypass its policy.\n")
	}
	b.WriteString("var proxy = ")
	b.Write(q)
	b.WriteString(";\nvar bypassHosts = ")
	b.WriteString(a.pac.exact)
	b.WriteString(";\nvar bypassDomains = ")
	b.WriteString(a.pac.domains)
	b.WriteString(";\n\n")
	b.WriteString(pacBody)

	h := w.Header()
	h.Set("Content-Type", "application/x-ns-proxy-autoconfig")
	h.Set("Cache-Control", "no-cache")
	w.Write([]byte(b.String()))
}

// pacProxyAddr returns proxy (host:port) with an unspecified host
// replaced by the host of requestHost, the name the PAC file was fetched
// under.
func pacProxyAddr(proxy, requestHost string) (string, error) {
	host, port, err := net.SplitHostPort(proxy)
	if err != nil {
		return "", err
	}
	if ip, err := netip.ParseAddr(host); (err == nil && ip.IsUnspecified()) || host == "" {
		rh, _, err := net.SplitHostPort(requestHost)
		if err != nil {
			rh = strings.TrimSuffix(strings.TrimPrefix(requestHost, "["), "]")
		}
		if rh == "" {
			rh = "localhost" // HTTP/1.0 without Host: the best guess
		}
		host = rh
	}
	return net.JoinHostPort(host, port), nil
}
