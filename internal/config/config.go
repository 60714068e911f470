// Package config is the YAML configuration of sluice: the schema, its
// defaults, loading with errors that name the file and line, and validation.
//
// Every field is documented where it is declared, in words meant for the
// person writing the file; docs/configuration.md says the same for users and
// its example file is checked by this package's tests.
//
// Load and Parse report every problem they find, not only the first, as an
// *Error whose Problems each carry a line number. Validate checks a Config
// that was built or changed in code, such as after command-line flags.
//
// The package deliberately does not parse command-line flags (cmd/sluice
// does, and overrides fields after Load), does not open listeners or log
// files, and does not watch the file or reload it (later work). Nothing here
// keeps state between calls.
package config

import (
	"net/netip"
	"time"
)

// Config is the whole configuration of one sluice process. Keys are written
// in snake_case, as in the yaml tags. A key missing from the file keeps its
// default (see Default).
type Config struct {
	// Listen is the address the proxy accepts clients on, as host:port.
	// The default is 127.0.0.1:3128, reachable only from this machine.
	// An empty host (":3128") listens on all interfaces, and "0.0.0.0:3128"
	// or "[::]:3128" do the same per address family: that exposes the proxy
	// to the network, and then allow_clients is what keeps strangers out.
	// Write IPv6 hosts in brackets and quote them, like "[::1]:3128".
	// Port 0 picks a free port. Changing it needs a restart.
	Listen string `yaml:"listen"`

	// AllowClients lists the client address ranges allowed to use the
	// proxy, in CIDR notation ("10.0.0.0/8"); a bare address means just that
	// address (/32 or /128). Everyone else gets 403 Forbidden. The default
	// allows only loopback (127.0.0.0/8 and ::1). Listing 0.0.0.0/0 and ::/0
	// makes an open proxy that anyone who can reach it may abuse; list only
	// the networks you serve. The list must not be empty.
	AllowClients []netip.Prefix `yaml:"allow_clients"`

	// AllowDest lists destination address ranges the proxy may connect to
	// even though they are denied by default. By default the proxy refuses
	// to connect to loopback (127.0.0.0/8, ::1), unspecified (0.0.0.0/8, ::)
	// and link-local (169.254.0.0/16, fe80::/10) addresses, including their
	// IPv4-mapped IPv6 forms, so that clients cannot reach services on the
	// proxy's own host or a cloud metadata service (169.254.169.254).
	// Exempt a range only if every allowed client may reach what is there.
	// The default is empty.
	AllowDest []netip.Prefix `yaml:"allow_dest"`

	// ConnectPorts lists the ports a CONNECT request (the way browsers
	// tunnel HTTPS) may go to; other ports get 403 Forbidden. The default
	// is [443]. Each port is 1-65535. An empty list refuses every CONNECT.
	// Allowing other ports lets clients tunnel arbitrary protocols, such as
	// SMTP on 25, through the proxy.
	ConnectPorts []int `yaml:"connect_ports"`

	// AccessLog is where one line per request is written: "-" for standard
	// output (the default), a file path (appended to, created if missing),
	// or "off" for no access log.
	AccessLog string `yaml:"access_log"`

	// LogFormat is the format of access log lines: "squid" (the default,
	// Squid's native format, which log analysers read), "combined" (Apache's
	// combined format) or "json" (one JSON object per line).
	LogFormat string `yaml:"log_format"`

	// LogLevel is the least severe diagnostic message written to standard
	// error: "debug", "info" (the default), "warn" or "error". It does not
	// affect the access log.
	LogLevel string `yaml:"log_level"`

	// UpstreamTimeout is the longest the proxy waits for an origin server's
	// response headers after sending the request; the client then gets
	// 504 Gateway Timeout. The default is 30s. It must be greater than 0.
	UpstreamTimeout Duration `yaml:"upstream_timeout"`

	// ConnectTimeout is the longest the proxy waits to open a TCP
	// connection to an origin server; the client then gets 504 Gateway
	// Timeout. The default is 10s. It must be greater than 0.
	ConnectTimeout Duration `yaml:"connect_timeout"`

	// IdleTimeout is how long a client's keep-alive connection may sit idle
	// between requests before the proxy closes it. The default is 2m; 0
	// means idle connections are never closed for idleness.
	IdleTimeout Duration `yaml:"idle_timeout"`

	// HeaderTimeout is the longest a client may take to send a request's
	// line and headers; slower clients are disconnected, which protects
	// against clients that hold connections open by sending slowly. The
	// default is 10s. It must be greater than 0.
	HeaderTimeout Duration `yaml:"header_timeout"`

	// TunnelIdleTimeout closes a CONNECT tunnel or WebSocket connection
	// when no bytes have passed in either direction for this long. A tunnel
	// that keeps moving data stays open however long it lasts. The same
	// limit aborts a response body from an origin that has sent nothing for
	// this long. The default is 10m; 0 means no such limit.
	TunnelIdleTimeout Duration `yaml:"tunnel_idle_timeout"`

	// DrainTimeout is how long, after SIGTERM or SIGINT, requests and
	// tunnels already in progress may run before the proxy closes them and
	// exits. New connections are refused meanwhile. The default is 15s; 0
	// closes everything at once.
	DrainTimeout Duration `yaml:"drain_timeout"`

	// MaxHeaderBytes limits the size of a request's line and headers
	// together; a larger request gets 431 Request Header Fields Too Large.
	// The default is 64KiB. It must be at least 1KiB; note that a bare
	// number means bytes.
	MaxHeaderBytes Size `yaml:"max_header_bytes"`

	// MaxBodyBytes limits the size of a request's body (an upload); a
	// request declaring a larger Content-Length gets 413 Content Too Large
	// before anything is forwarded, and a chunked body that grows past it
	// is cut off, answered with 413 if the origin has not answered yet, and
	// its connection closed. The default is 0, no limit. Responses are not
	// limited.
	MaxBodyBytes Size `yaml:"max_body_bytes"`

	// ViaPseudonym is the name this proxy gives itself in the Via header it
	// adds to requests and responses (RFC 9110 §7.6.3), which also lets it
	// detect requests that loop back to itself. The default, empty, lets the
	// proxy derive a name that is stable for this instance and does not
	// reveal the host name. If set, it must be an HTTP token (RFC 9110
	// §5.6.2): letters, digits and !#$%&'*+-.^_`|~ only, no spaces. Give
	// each proxy in a chain a different name.
	ViaPseudonym string `yaml:"via_pseudonym"`

	// ForwardedFor says what the proxy tells origin servers about the
	// client's address:
	//   - "off" (the default): nothing is added, and X-Forwarded-For and
	//     Forwarded headers sent by the client pass unchanged;
	//   - "add": the client's IP address is appended to X-Forwarded-For;
	//   - "forwarded": a for= element with the client's IP address is
	//     appended to the Forwarded header (RFC 7239);
	//   - "delete": X-Forwarded-For and Forwarded are removed, so origins
	//     see neither the client nor anything a client claimed.
	// "add" and "forwarded" reveal your clients' addresses to every site
	// they visit; use them only when the origins are yours and need to know.
	// Except under "delete", a client can put any address it likes in these
	// headers before the proxy's own entry, so an origin may trust only the
	// last entry, and only if it knows the request came through this proxy.
	ForwardedFor string `yaml:"forwarded_for"`

	// Upstream holds the settings of connections from the proxy to origin
	// servers.
	Upstream Upstream `yaml:"upstream"`

	// Cache holds the settings of the shared HTTP cache (RFC 9111).
	Cache Cache `yaml:"cache"`

	// Filter holds the block and allow lists.
	Filter Filter `yaml:"filter"`

	// Privacy holds what the proxy hides about its users.
	Privacy Privacy `yaml:"privacy"`

	// Rewrite holds header and HTML rewriting rules.
	Rewrite Rewrite `yaml:"rewrite"`

	// Auth holds proxy authentication: who the users are.
	Auth Auth `yaml:"auth"`

	// Access holds the rules saying which user or client may go where.
	Access Access `yaml:"access"`

	// Limits holds the connection and request-rate limits.
	Limits Limits `yaml:"limits"`

	// Admin holds the admin listener: metrics, the status page, PAC.
	Admin Admin `yaml:"admin"`

	// Redis holds the cache tier shared by a fleet of instances.
	Redis Redis `yaml:"redis"`
}

// Cache holds the settings of the HTTP cache. In the file they are keys
// under "cache:". The cache has two tiers: memory in front of disk.
// Setting mem to 0 and dir to off turns caching off.
type Cache struct {
	// Dir is the disk tier's directory, created if missing. The default,
	// "", means the user's cache directory (os.UserCacheDir, usually
	// ~/.cache) plus "/sluice"; "off" keeps the cache in memory only.
	// Stored responses survive restarts. Two proxies must not share one
	// directory. Changing it needs a restart.
	Dir string `yaml:"dir"`

	// Mem is the memory tier's budget: entries (bodies, header fields and
	// keys) never take more. The default is 256MiB; 0 means no memory
	// tier. Memory for this budget is reserved as it is used, not at start.
	Mem Size `yaml:"mem"`

	// Disk is the disk tier's budget, in bytes of files. The default is
	// 10GiB. The least recently used responses are removed to stay within
	// it.
	Disk Size `yaml:"disk"`

	// MaxObjectSize is the largest response body stored on disk. The
	// default is 1GiB. Larger responses pass through uncached.
	MaxObjectSize Size `yaml:"max_object_size"`

	// MaxObjectSizeMem is the largest response body kept in memory. The
	// default is 4MiB; larger ones are stored on disk only.
	MaxObjectSizeMem Size `yaml:"max_object_size_mem"`

	// HeuristicPercent is the share of a response's age at the time it was
	// fetched (Date minus Last-Modified) for which a response without an
	// explicit lifetime counts as fresh (RFC 9111 §4.2.2). The default is
	// 10; 0 turns heuristic freshness off.
	HeuristicPercent int `yaml:"heuristic_percent"`

	// HeuristicMax caps a heuristic freshness lifetime. The default is
	// 24h.
	HeuristicMax Duration `yaml:"heuristic_max"`

	// PurgeClients are the client networks allowed to remove a URL from
	// the cache with the PURGE method. The default is loopback only:
	// [127.0.0.0/8, "::1"]. An empty list lets no one purge.
	PurgeClients []netip.Prefix `yaml:"purge_clients"`
}

// Enabled reports whether any local cache tier is configured.
func (c *Cache) Enabled() bool { return c.Mem > 0 || c.Dir != "off" }

// Upstream holds the settings of the proxy's pool of connections to origin
// servers. In the file they are keys under "upstream:".
type Upstream struct {
	// MaxIdlePerHost is how many idle keep-alive connections the proxy
	// keeps to each origin (host and port) for reuse. The default is 256;
	// 0 keeps none, so every request opens a new connection.
	MaxIdlePerHost int `yaml:"max_idle_per_host"`

	// MaxIdle is how many idle keep-alive connections the proxy keeps
	// across all origins together. The default is 4096; 0 means no limit
	// other than max_idle_per_host.
	MaxIdle int `yaml:"max_idle"`

	// IdleConnTimeout closes an idle connection to an origin that has not
	// been reused for this long. The default is 90s; 0 means idle
	// connections are kept until the origin closes them.
	IdleConnTimeout Duration `yaml:"idle_conn_timeout"`

	// MaxConnsPerHost limits the connections to one origin, busy and idle
	// together. A request beyond the limit waits for a connection to become
	// free, for at most upstream_timeout. The default is 0, no limit.
	MaxConnsPerHost int `yaml:"max_conns_per_host"`
}

// Default returns the configuration used when there is no file, and the
// values that keys missing from a file keep. Each call returns a fresh
// Config that the caller may change.
func Default() Config {
	return Config{
		Listen: "127.0.0.1:3128",
		AllowClients: []netip.Prefix{
			netip.MustParsePrefix("127.0.0.0/8"),
			netip.MustParsePrefix("::1/128"),
		},
		AllowDest:         nil,
		ConnectPorts:      []int{443},
		AccessLog:         "-",
		LogFormat:         "squid",
		LogLevel:          "info",
		UpstreamTimeout:   Duration(30 * time.Second),
		ConnectTimeout:    Duration(10 * time.Second),
		IdleTimeout:       Duration(2 * time.Minute),
		HeaderTimeout:     Duration(10 * time.Second),
		TunnelIdleTimeout: Duration(10 * time.Minute),
		DrainTimeout:      Duration(15 * time.Second),
		MaxHeaderBytes:    64 * KiB,
		ViaPseudonym:      "",
		ForwardedFor:      "off",
		Upstream: Upstream{
			MaxIdlePerHost:  256,
			MaxIdle:         4096,
			IdleConnTimeout: Duration(90 * time.Second),
			MaxConnsPerHost: 0,
		},
		Cache: Cache{
			Dir:              "",
			Mem:              256 * MiB,
			Disk:             10 * GiB,
			MaxObjectSize:    1 * GiB,
			MaxObjectSizeMem: 4 * MiB,
			HeuristicPercent: 10,
			HeuristicMax:     Duration(24 * time.Hour),
			PurgeClients: []netip.Prefix{
				netip.MustParsePrefix("127.0.0.0/8"),
				netip.MustParsePrefix("::1/128"),
			},
		},
		Filter: Filter{
			Refresh: Duration(24 * time.Hour),
		},
		Privacy: Privacy{
			Level: "standard",
		},
		Auth: Auth{Realm: "sluice"},
		Admin: Admin{Clients: []netip.Prefix{
			netip.MustParsePrefix("127.0.0.0/8"),
			netip.MustParsePrefix("::1/128"),
		}},
		Access: Access{Default: "allow"},
		Redis: Redis{
			Prefix:        "sluice:",
			Timeout:       Duration(20 * time.Millisecond),
			MaxObjectSize: 8 * MiB,
		},
	}
}
