// Command sluice is a forward web proxy.
//
//	sluice [flags] [PORT]
//	sluice config check FILE
//
// This file holds flags, signals and wiring, nothing else; see --help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sluice/internal/access"
	"sluice/internal/accesslog"
	"sluice/internal/config"
	"sluice/internal/dial"
	"sluice/internal/limit"
	"sluice/internal/lists"
	"sluice/internal/proxy"
	"sluice/internal/server"
	"sluice/internal/tunnel"
	"sluice/internal/upstream"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			if dirty {
				rev += "-dirty"
			}
			return "dev-" + rev
		}
	}
	return "dev"
}

const usageHead = `sluice — a forward web proxy (HTTP and HTTPS via CONNECT)

Usage:
  sluice [flags] [PORT]        run the proxy; PORT alone means --listen 127.0.0.1:PORT
  sluice config check FILE     validate a configuration file and report every problem with its line

Examples:
  sluice 8080                              proxy on 127.0.0.1:8080 for local clients
  curl -x http://127.0.0.1:8080 http://example.com/
  sluice --listen 0.0.0.0:3128 --allow-client 192.168.1.0/24
  sluice --config /etc/sluice/sluice.yaml
  sluice --block-list https://easylist.to/easylist/easylist.txt 8080

Flags (given on the command line, they win over the --config file):
`

const usageTail = `
Defaults protect people: the proxy listens on loopback and serves loopback
clients only; CONNECT reaches port 443 only; destinations on loopback,
link-local and unspecified addresses are refused; the client's address is
not passed upstream. Signals: SIGTERM/SIGINT drain and exit, SIGUSR1 reopens
the access log, SIGHUP reloads the filtering, privacy, rewriting,
authentication and access rules (so does a change to the configuration
file, a list file or the htpasswd file).
Every flag and configuration key: docs/configuration.md; lists and
privacy: docs/filtering.md; authentication, access rules, limits and
exposing the proxy safely: docs/security.md; the admin listener, metrics,
PAC and logs: docs/operations.md.
`

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

type flags struct {
	fs                                           *flag.FlagSet
	listen, configFile, connectPorts             string
	accessLog, logFormat, logLevel, forwardedFor string
	upstreamTimeout, idleTimeout, drainTimeout   time.Duration
	headerTimeout, connectTimeout, tunnelIdle    time.Duration
	allowClient, allowDest                       listFlag
	showVersion                                  bool
	cacheDir, cacheMem, cacheDisk                string
	blockList, allowList, redis                  listFlag
	privacy                                      string
	port                                         string
	htpasswd, maxBody, admin                     string
	adminPprof                                   bool
	probeResistance                              bool
	maxConns, maxConnsPerClient, rateLimit       int
}

func newFlags() *flags {
	f := &flags{fs: flag.NewFlagSet("sluice", flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(io.Discard) // run reports errors in one line
	fs.StringVar(&f.listen, "listen", "127.0.0.1:3128", "listen `ADDR`ess, host:port (an empty host listens on every interface)")
	fs.StringVar(&f.configFile, "config", "", "YAML configuration `FILE` (see docs/configuration.md)")
	fs.Var(&f.allowClient, "allow-client", "client `CIDR` allowed to use the proxy (repeatable; default loopback only)")
	fs.Var(&f.allowDest, "allow-dest", "destination `CIDR`, or named set like loopback, exempted from the default deny set (repeatable)")
	fs.StringVar(&f.connectPorts, "connect-ports", "443", "comma-separated `LIST` of ports CONNECT may reach")
	fs.StringVar(&f.accessLog, "access-log", "-", "access log: a file `PATH`, - for stdout, or off")
	fs.StringVar(&f.logFormat, "log-format", "squid", "access log `FORMAT`: squid, combined or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "diagnostic log `LEVEL` on stderr: debug, info, warn, error")
	fs.DurationVar(&f.upstreamTimeout, "upstream-timeout", 30*time.Second, "max wait (`DUR`, e.g. 30s) for an origin's response headers, then 504")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", 10*time.Second, "max time (`DUR`) to connect to an origin, then 504")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", 2*time.Minute, "close a client keep-alive connection idle this long (`DUR`)")
	fs.DurationVar(&f.headerTimeout, "header-timeout", 10*time.Second, "max time (`DUR`) for a client to send a request's headers")
	fs.DurationVar(&f.tunnelIdle, "tunnel-idle-timeout", 10*time.Minute, "close a tunnel, WebSocket or stalled transfer idle this long (`DUR`)")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", 15*time.Second, "on SIGTERM/SIGINT, how long (`DUR`) in-flight requests and tunnels may finish")
	fs.StringVar(&f.forwardedFor, "forwarded-for", "off", "client address upstream (`MODE`): off, add (X-Forwarded-For), forwarded (RFC 7239 Forwarded), delete (strip both)")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "disk cache `DIR`ectory, or off for memory only (default: os.UserCacheDir()/sluice, usually ~/.cache/sluice)")
	fs.StringVar(&f.cacheMem, "cache-mem", "256MiB", "memory cache budget `SIZE`, like 64MiB or 2GiB; 0 for no memory tier")
	fs.StringVar(&f.cacheDisk, "cache-disk", "10GiB", "disk cache budget `SIZE`")
	fs.Var(&f.blockList, "block-list", "block list `FILE` or URL: hosts, domains, Adblock/EasyList or regex rules, detected (repeatable; see docs/filtering.md)")
	fs.Var(&f.allowList, "allow-list", "allow list `FILE` or URL; a match is never blocked (repeatable)")
	fs.StringVar(&f.privacy, "privacy", "standard", "privacy `LEVEL`: off, standard (trim cross-site Referer, drop tracking parameters, Sec-GPC) or strict (also generic User-Agent, no third-party cookies)")
	fs.StringVar(&f.htpasswd, "htpasswd", "", "require proxy authentication against this Apache htpasswd `FILE` (bcrypt entries; see docs/security.md)")
	fs.BoolVar(&f.probeResistance, "probe-resistance", false, "with --htpasswd: answer unauthenticated clients like a plain web server, not with 407")
	fs.IntVar(&f.maxConns, "max-conns", 0, "cap on open client connections, `N`; 0 means half the open-file limit")
	fs.IntVar(&f.maxConnsPerClient, "max-conns-per-client", 0, "cap on one client address's open connections, `N` (then 429); 0 means no cap")
	fs.IntVar(&f.rateLimit, "rate-limit", 0, "requests per second, `N`, one client address may make (then 429); 0 means no limit")
	fs.StringVar(&f.maxBody, "max-body", "0", "largest request body, `SIZE` like 100MiB (then 413); 0 means no limit")
	fs.StringVar(&f.admin, "admin", "", "serve the status page, /metrics and /proxy.pac on `ADDR`ess, like 127.0.0.1:9090 (see docs/operations.md)")
	fs.BoolVar(&f.adminPprof, "admin-pprof", false, "with --admin: serve Go's profiler under /debug/pprof/")
	fs.Var(&f.redis, "redis", "share the cache with other instances through the Redis server at `ADDR`, host:port (repeatable with redis.cluster; see docs/fleet.md)")
	fs.BoolVar(&f.showVersion, "version", false, "print the version and exit")
	fs.Bool("help", false, "print this help and exit")
	// Errors print one line (see run); --help prints the whole usage.
	fs.Usage = func() {}
	return f
}

// usage prints the help text, flags spelled with two dashes as users type
// them.
func (f *flags) usage(w io.Writer) {
	fmt.Fprint(w, usageHead)
	f.fs.VisitAll(func(fl *flag.Flag) {
		name, text := flag.UnquoteUsage(fl)
		if name == "" {
			fmt.Fprintf(w, "  --%s\n", fl.Name)
		} else {
			fmt.Fprintf(w, "  --%s %s\n", fl.Name, name)
		}
		fmt.Fprintf(w, "        %s", text)
		if fl.DefValue != "" && fl.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", fl.DefValue)
		}
		fmt.Fprintln(w)
	})
	fmt.Fprint(w, usageTail)
}

// parse accepts flags before and after the positional PORT.
func (f *flags) parse(args []string) error {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			return err
		}
		rest := f.fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch len(pos) {
	case 0:
	case 1:
		n, err := strconv.Atoi(pos[0])
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("PORT must be a number from 1 to 65535, not %q", pos[0])
		}
		f.port = pos[0]
	default:
		return fmt.Errorf("unexpected arguments %q (did you mean --flag value?)", pos[1:])
	}
	return nil
}

// apply overrides cfg with every flag given on the command line.
func (f *flags) apply(cfg *config.Config) error {
	var errs []error
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "listen":
			cfg.Listen = f.listen
		case "allow-client":
			cfg.AllowClients = nil
			for _, s := range f.allowClient {
				p, err := config.ParsePrefix(s)
				if err != nil {
					errs = append(errs, fmt.Errorf("--allow-client: %w", err))
				}
				cfg.AllowClients = append(cfg.AllowClients, p)
			}
		case "allow-dest":
			cfg.AllowDest = nil
			for _, s := range f.allowDest {
				if set, ok := access.NamedSet(s); ok {
					cfg.AllowDest = append(cfg.AllowDest, set...)
					continue
				}
				p, err := config.ParsePrefix(s)
				if err != nil {
					errs = append(errs, fmt.Errorf("--allow-dest: %w", err))
				}
				cfg.AllowDest = append(cfg.AllowDest, p)
			}
		case "connect-ports":
			ports, err := config.ParsePorts(f.connectPorts)
			if err != nil {
				errs = append(errs, fmt.Errorf("--connect-ports: %w", err))
			}
			cfg.ConnectPorts = ports
		case "access-log":
			cfg.AccessLog = f.accessLog
		case "log-format":
			cfg.LogFormat = f.logFormat
		case "log-level":
			cfg.LogLevel = f.logLevel
		case "upstream-timeout":
			cfg.UpstreamTimeout = config.Duration(f.upstreamTimeout)
		case "connect-timeout":
			cfg.ConnectTimeout = config.Duration(f.connectTimeout)
		case "idle-timeout":
			cfg.IdleTimeout = config.Duration(f.idleTimeout)
		case "header-timeout":
			cfg.HeaderTimeout = config.Duration(f.headerTimeout)
		case "tunnel-idle-timeout":
			cfg.TunnelIdleTimeout = config.Duration(f.tunnelIdle)
		case "drain-timeout":
			cfg.DrainTimeout = config.Duration(f.drainTimeout)
		case "forwarded-for":
			cfg.ForwardedFor = f.forwardedFor
		case "cache-dir":
			cfg.Cache.Dir = f.cacheDir
		case "block-list":
			cfg.Filter.Block = append(cfg.Filter.Block, f.blockList...)
		case "allow-list":
			cfg.Filter.Allow = append(cfg.Filter.Allow, f.allowList...)
		case "privacy":
			cfg.Privacy.Level = f.privacy
		case "admin":
			cfg.Admin.Listen = f.admin
		case "admin-pprof":
			cfg.Admin.Pprof = f.adminPprof
		case "redis":
			cfg.Redis.Addrs = append([]string(nil), f.redis...)
		case "htpasswd":
			cfg.Auth.Htpasswd = f.htpasswd
		case "probe-resistance":
			cfg.Auth.ProbeResistance = f.probeResistance
		case "max-conns":
			cfg.Limits.MaxConns = f.maxConns
		case "max-conns-per-client":
			cfg.Limits.MaxConnsPerClient = f.maxConnsPerClient
		case "rate-limit":
			cfg.Limits.RequestsPerSecond = f.rateLimit
		case "max-body":
			sz, err := config.ParseSize(f.maxBody)
			if err != nil {
				errs = append(errs, fmt.Errorf("--max-body: %w", err))
			}
			cfg.MaxBodyBytes = sz
		case "cache-mem", "cache-disk":
			sz, err := config.ParseSize(fl.Value.String())
			if err != nil {
				errs = append(errs, fmt.Errorf("--%s: %w", fl.Name, err))
			} else if fl.Name == "cache-mem" {
				cfg.Cache.Mem = sz
			} else {
				cfg.Cache.Disk = sz
			}
		}
	})
	if f.port != "" {
		cfg.Listen = net.JoinHostPort("127.0.0.1", f.port)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return cfg.Validate()
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "config" {
		return configCommand(args[1:], stdout, stderr)
	}
	f := newFlags()
	if err := f.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			f.usage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "sluice: %v\nRun 'sluice --help' for usage.\n", err)
		return 2
	}
	if h := f.fs.Lookup("help"); h != nil && h.Value.String() == "true" {
		f.usage(stdout)
		return 0
	}
	if f.showVersion {
		fmt.Fprintf(stdout, "sluice %s\n", versionString())
		return 0
	}
	cfg, err := f.load()
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 2
	}
	return serve(cfg, f, stderr)
}

// load reads the configuration file, if any, and applies the flags over
// it; it runs at start and on every reload.
func (f *flags) load() (*config.Config, error) {
	cfg := config.Default()
	if f.configFile != "" {
		c, err := config.Load(f.configFile)
		if err != nil {
			return nil, err
		}
		cfg = *c
	}
	if err := f.apply(&cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func configCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: sluice config check FILE")
		return 2
	}
	cfg, err := config.Load(args[1])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// The lists and rules it names must build too: a list file that is
	// missing, a rewrite rule whose regex does not compile.
	ls := lists.New(lists.Options{Dir: listDir(&cfg.Filter)})
	if _, _, err := buildRules(cfg, ls, slog.New(slog.DiscardHandler), nil); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", args[1], err)
		return 1
	}
	// So must the Redis client: its password file and CA file are read
	// (Redis itself is not contacted).
	if cfg.Redis.Enabled() {
		c, err := newRedisClient(&cfg.Redis)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", args[1], err)
			return 1
		}
		c.Close()
	}
	fmt.Fprintf(stdout, "%s: OK\n", args[1])
	return 0
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

func serve(cfg *config.Config, f *flags, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: parseLevel(cfg.LogLevel)}))

	var alog *accesslog.Logger
	w, err := accesslog.Open(cfg.AccessLog)
	if err != nil {
		log.Error("cannot open access log", "path", cfg.AccessLog, "err", err)
		return 1
	}
	if w != nil {
		format, err := accesslog.ParseFormat(cfg.LogFormat)
		if err != nil {
			log.Error("bad log format", "err", err)
			return 2
		}
		alog = accesslog.New(w, format)
		defer alog.Close()
	}

	maxConns := cfg.Limits.MaxConns
	if maxConns == 0 {
		maxConns = limit.DefaultMaxConns()
	}
	limits := limit.New(limit.Options{
		MaxConns:          maxConns,
		MaxConnsPerClient: cfg.Limits.MaxConnsPerClient,
		Rate:              float64(cfg.Limits.RequestsPerSecond),
		Burst:             cfg.Limits.Burst,
		Logger:            log,
	})
	tunnels := new(tunnel.Tracker)
	obs := newObserver(versionString(), limits.OpenConns, tunnels.Open)

	dialer := &dial.Dialer{Policy: dial.NewPolicy(cfg.AllowDest), Timeout: cfg.ConnectTimeout.D(), Observe: obs.m.UpstreamConnect}
	transport := &upstream.Transport{
		DialContext:           dialer.DialContext,
		ReuseCheck:            dial.ReuseCheck,
		FirstByte:             obs.m.UpstreamFirstByte,
		MaxIdlePerHost:        zeroMeans(cfg.Upstream.MaxIdlePerHost, -1),
		MaxIdle:               zeroMeans(cfg.Upstream.MaxIdle, math.MaxInt),
		IdleConnTimeout:       zeroMeans(cfg.Upstream.IdleConnTimeout.D(), 100*365*24*time.Hour),
		MaxConnsPerHost:       cfg.Upstream.MaxConnsPerHost,
		ResponseHeaderTimeout: cfg.UpstreamTimeout.D(),
		ReadIdleTimeout:       cfg.TunnelIdleTimeout.D(),
	}
	defer transport.CloseIdleConnections()
	var rt http.RoundTripper = transport
	c, cacheParts, err := openCache(cfg, transport, log)
	if err != nil {
		log.Error("cannot open the cache", "err", err)
		return 1
	}
	defer cacheParts.close()
	obs.cache, obs.tiers, obs.shared, obs.purgeHost = c, cacheParts.tiers, cacheParts.shared, cacheParts.purgeHost
	var purger proxy.Purger
	if c != nil {
		rt, purger = c, c
	}
	// Lists given as URLs are fetched through the proxy's own upstream
	// connections and cache, under the same destination rules.
	ls := lists.New(lists.Options{
		Dir:    listDir(&cfg.Filter),
		Client: &http.Client{Transport: rt, Timeout: 2 * time.Minute},
		Check:  checkList,
		Logger: log,
	})
	rl := &rules{log: log, ls: ls, load: f.load}
	if err := rl.start(cfg, f.configFile); err != nil {
		log.Error("cannot build the filtering, privacy and rewriting rules", "err", err)
		return 2
	}
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go rl.watch(bg, 2*time.Second, f.configFile)
	go watchLog(bg, alog, 2*time.Second, log)
	go rl.refresh(bg, f.configFile)

	handler := proxy.New(proxy.Options{
		Observe:           obs.observe,
		TunnelOpened:      obs.st.TunnelOpened,
		Rules:             rl.get,
		Resolve:           dialer.Resolve,
		Transport:         rt,
		Cache:             purger,
		PurgeClients:      cfg.Cache.PurgeClients,
		DialContext:       dialer.DialContext,
		ConnectPorts:      cfg.ConnectPorts,
		Pseudonym:         cfg.ViaPseudonym,
		ForwardedFor:      cfg.ForwardedFor,
		TunnelIdleTimeout: cfg.TunnelIdleTimeout.D(),
		Tunnels:           tunnels,
		AccessLog:         alog,
		Logger:            log,
		ListenAddr:        cfg.Listen,
		Version:           versionString(),
	})
	srv, err := server.Listen(server.Options{
		Addr:           cfg.Listen,
		Handler:        handler,
		AllowClients:   cfg.AllowClients,
		HeaderTimeout:  cfg.HeaderTimeout.D(),
		IdleTimeout:    cfg.IdleTimeout.D(),
		MaxHeaderBytes: int(cfg.MaxHeaderBytes),
		MaxBodyBytes:   int64(cfg.MaxBodyBytes),
		Limits:         limits,
		Tunnels:        tunnels,
		AccessLog:      alog,
		Logger:         log,
	})
	if err != nil {
		log.Error("cannot listen", "addr", cfg.Listen, "err", err)
		return 1
	}
	log.Info("sluice listening", "addr", srv.Addr().String(), "version", versionString(),
		"allow_clients", prefixes(cfg.AllowClients), "connect_ports", cfg.ConnectPorts,
		"allow_dest", prefixes(cfg.AllowDest), "max_conns", maxConns)
	warnExposure(log, cfg)
	stopAdmin, err := startAdmin(cfg, obs, rl, f.configFile, srv.Addr().String(), log)
	if err != nil {
		log.Error("cannot listen for the admin listener", "addr", cfg.Admin.Listen, "err", err)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		srv.Shutdown(ctx)
		return 1
	}
	defer stopAdmin()

	stopGC := make(chan struct{})
	defer close(stopGC)
	go tuneGC(stopGC)

	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGHUP)
	defer signal.Stop(sigs)
	for {
		select {
		case err := <-served:
			log.Error("server stopped", "err", err)
			return 1
		case sig := <-sigs:
			switch sig {
			case syscall.SIGUSR1:
				if err := alog.Reopen(); err != nil {
					log.Error("reopening access log failed", "err", err)
				} else {
					log.Info("access log reopened")
				}
				continue
			case syscall.SIGHUP:
				rl.reload("SIGHUP", f.configFile)
				continue
			}
			obs.draining.Store(true)
			log.Info("shutting down", "signal", sig.String(), "drain_timeout", cfg.DrainTimeout.D().String())
			ctx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout.D())
			clean := srv.Shutdown(ctx)
			cancel()
			if clean {
				log.Info("drained; bye")
			} else {
				log.Warn("drain timeout reached; closed what was still open")
			}
			return 0
		}
	}
}

// zeroMeans maps a configuration value whose documented zero means "none"
// or "no limit" onto the transport's convention, where zero means default.
func zeroMeans[T int | time.Duration](v, zero T) T {
	if v == 0 {
		return zero
	}
	return v
}

func prefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// warnExposure says so when the proxy is reachable beyond this host.
// watchLog reopens the access log when its file is renamed or removed, for
// rotators that do not send SIGUSR1, until ctx is done.
func watchLog(ctx context.Context, alog *accesslog.Logger, every time.Duration, log *slog.Logger) {
	if alog == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if moved, err := alog.ReopenIfMoved(); err != nil {
				log.Error("reopening the moved access log failed", "err", err)
			} else if moved {
				log.Info("access log moved away; reopened")
			}
		}
	}
}

func warnExposure(log *slog.Logger, cfg *config.Config) {
	for _, p := range cfg.AllowClients {
		if !p.Addr().IsLoopback() {
			log.Warn("clients beyond this host may use the proxy", "allow_client", p.String())
		}
		if p.Bits() == 0 && cfg.Auth.Htpasswd == "" {
			log.Warn("this is an open proxy: anyone who can reach it may use it; set --htpasswd or narrow --allow-client (docs/security.md)", "allow_client", p.String())
		}
	}
}
