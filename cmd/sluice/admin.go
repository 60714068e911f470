package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"sluice/internal/accesslog"
	"sluice/internal/admin"
	"sluice/internal/cache"
	"sluice/internal/config"
	"sluice/internal/metrics"
	"sluice/internal/stats"
)

// observer gathers what the proxy does for the metrics and the status page.
// It exists whether or not the admin listener does, so that turning the
// listener on changes nothing on the request path; its cost per request is
// a few hundred nanoseconds without allocation.
type observer struct {
	m         *metrics.Metrics
	st        *stats.Stats
	started   time.Time
	version   string
	cache     *cache.Cache
	tiers     []tier
	shared    *shared                                             // nil without a shared tier
	purgeHost func(ctx context.Context, host string) (int, error) // the cache's, announced to the fleet
	conns     func() int64
	tunnels   func() int64

	draining atomic.Bool // set on SIGTERM/SIGINT: /readyz says 503 so load balancers stop sending
}

// ready is admin.Options.Ready.
func (o *observer) ready() error {
	if o.draining.Load() {
		return errors.New("draining: shutting down")
	}
	return nil
}

// newObserver starts counting; cache and tiers are filled in once the
// cache is open, before the admin listener can read them.
func newObserver(version string, conns, tunnels func() int64) *observer {
	o := &observer{st: stats.New(stats.Options{}), started: time.Now(), version: version,
		conns: conns, tunnels: tunnels}
	o.m = metrics.New(metrics.Options{OpenConns: conns, OpenTunnels: tunnels, CacheTiers: o.metricTiers,
		Shared: func() (metrics.Shared, bool) { return o.shared.state() }, Version: version})
	return o
}

// observe is proxy.Options.Observe.
func (o *observer) observe(r accesslog.Record) {
	o.m.Observe(&r)
	o.st.Observe(&r)
}

func (o *observer) metricTiers() []metrics.Tier {
	var cs cache.Stats
	if o.cache != nil {
		cs = o.cache.Stats()
	}
	out := make([]metrics.Tier, len(o.tiers))
	for i, t := range o.tiers {
		s := t.stats()
		out[i] = metrics.Tier{Name: t.name, Bytes: s.Bytes, Objects: s.Entries, Capacity: s.Capacity}
		switch t.name {
		case "memory":
			out[i].Hits = cs.MemHits
		case "disk":
			out[i].Hits = cs.DiskHits
		case "redis":
			out[i].Hits = cs.SharedHits
		}
	}
	return out
}

// snapshot is the status page's /api/stats.
func (o *observer) snapshot(cfg *config.Config) any {
	e := stats.Extra{Version: o.version, Started: o.started, Config: configSummary(cfg),
		Active: stats.Active{Connections: o.conns(), Tunnels: o.tunnels()}}
	for _, t := range o.tiers {
		s := t.stats()
		ct := stats.CacheTier{Tier: t.name, Bytes: s.Bytes, Objects: s.Entries, Capacity: s.Capacity}
		if t.name == "redis" && o.shared != nil {
			ct.State = "up"
			if !o.shared.up.Load() {
				ct.State = "down"
			}
		}
		e.Cache = append(e.Cache, ct)
	}
	return o.st.Snapshot(e)
}

// configSummary is the configuration table of the status page: what an
// operator glancing at it wants to confirm, not every key.
func configSummary(c *config.Config) map[string]string {
	if c == nil {
		return map[string]string{}
	}
	cacheText := "off"
	if c.Cache.Enabled() {
		var parts []string
		if c.Cache.Mem > 0 {
			parts = append(parts, c.Cache.Mem.String()+" memory")
		}
		if c.Cache.Dir != "off" {
			dir := c.Cache.Dir
			if dir == "" {
				dir = "the user cache directory"
			}
			parts = append(parts, c.Cache.Disk.String()+" disk at "+dir)
		}
		cacheText = strings.Join(parts, ", ")
	}
	if c.Redis.Enabled() {
		if cacheText == "off" {
			cacheText = ""
		} else {
			cacheText += ", "
		}
		cacheText += "shared through Redis at " + strings.Join(c.Redis.Addrs, ", ")
	}
	authText := "off"
	if c.Auth.Htpasswd != "" {
		authText = "htpasswd " + c.Auth.Htpasswd
		if c.Auth.ProbeResistance {
			authText += ", probe resistance"
		}
	}
	accessText := fmt.Sprintf("%d rules, default %s", len(c.Access.Rules), c.Access.Default)
	limitsText := "none per client"
	if c.Limits.MaxConnsPerClient > 0 || c.Limits.RequestsPerSecond > 0 {
		limitsText = fmt.Sprintf("%d connections, %d requests/s per client", c.Limits.MaxConnsPerClient, c.Limits.RequestsPerSecond)
	}
	ports := make([]string, len(c.ConnectPorts))
	for i, p := range c.ConnectPorts {
		ports[i] = fmt.Sprint(p)
	}
	return map[string]string{
		"listen":         c.Listen,
		"allow_clients":  prefixes(c.AllowClients),
		"allow_dest":     prefixes(c.AllowDest),
		"connect_ports":  strings.Join(ports, ", "),
		"cache":          cacheText,
		"auth":           authText,
		"access":         accessText,
		"limits":         limitsText,
		"filter":         fmt.Sprintf("%d block lists, %d allow lists%s", len(c.Filter.Block), len(c.Filter.Allow), map[bool]string{true: ", report only"}[c.Filter.ReportOnly]),
		"privacy":        c.Privacy.Level,
		"forwarded_for":  c.ForwardedFor,
		"access_log":     c.AccessLog + " (" + c.LogFormat + ")",
		"timeouts":       fmt.Sprintf("header %s, idle %s, upstream %s, connect %s", c.HeaderTimeout, c.IdleTimeout, c.UpstreamTimeout, c.ConnectTimeout),
		"max_body_bytes": map[bool]string{true: "no limit", false: c.MaxBodyBytes.String()}[c.MaxBodyBytes == 0],
	}
}

// startAdmin listens on cfg.Admin.Listen and serves the admin handler
// until the returned stop is called. It returns a nil stop when there is
// no admin listener.
func startAdmin(cfg *config.Config, o *observer, rl *rules, configFile string, proxyAddr string, log *slog.Logger) (stop func(), err error) {
	if cfg.Admin.Listen == "" {
		return func() {}, nil
	}
	var purge func(context.Context, string) (bool, error)
	var purgeHost func(context.Context, string) (int, error)
	if o.cache != nil {
		purge = o.cache.Purge
		purgeHost = o.purgeHost
	}
	h := admin.New(admin.Options{
		Metrics:      o.m.Handler(),
		Stats:        func() any { return o.snapshot(rl.config()) },
		Purge:        purge,
		PurgeHost:    purgeHost,
		Reload:       func() error { return rl.reload("admin", configFile) },
		Ready:        o.ready,
		ProxyAddr:    proxyAddr,
		PACBypass:    cfg.Admin.PACBypass,
		AllowClients: cfg.Admin.Clients,
		Hosts:        cfg.Admin.Hosts,
		Pprof:        cfg.Admin.Pprof,
		Logger:       log,
	})
	ln, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		return nil, err
	}
	// No write timeout: /debug/pprof/profile streams for as long as asked.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener stopped", "err", err)
		}
	}()
	log.Info("admin listening", "addr", ln.Addr().String(), "pprof", cfg.Admin.Pprof)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
