package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"sluice/internal/cache"
	"sluice/internal/cache/semantics"
	"sluice/internal/cache/store"
	"sluice/internal/cache/store/disk"
	"sluice/internal/cache/store/mem"
	redisstore "sluice/internal/cache/store/redis"
	"sluice/internal/cache/store/tiered"
	"sluice/internal/config"
	"sluice/internal/fleet"
)

// tier is one cache tier as metrics and the status page show it.
type tier struct {
	name  string // "memory", "disk", "redis"
	stats func() store.Stats
}

// cacheParts is what openCache returns besides the cache.
type cacheParts struct {
	tiers     []tier                                              // for metrics and the status page
	shared    *shared                                             // nil without a shared tier
	purgeHost func(ctx context.Context, host string) (int, error) // the admin's host purge, announced to the fleet
	close     func()
}

// openCache builds the cache tiers cfg asks for, in front of next: memory,
// disk, and Redis shared by a fleet. It returns a nil cache when caching
// is off. parts.close releases the tiers.
func openCache(cfg *config.Config, next http.RoundTripper, log *slog.Logger) (c *cache.Cache, parts cacheParts, err error) {
	parts.close = func() {}
	if !cfg.Cache.Enabled() && !cfg.Redis.Enabled() {
		return nil, parts, nil
	}
	rules := cacheRules(&cfg.Cache)
	local, maxObj, err := openLocalTiers(&cfg.Cache, &parts, log)
	if err != nil {
		return nil, parts, err
	}
	tiers := local
	var sh *shared
	if cfg.Redis.Enabled() {
		sh, err = openShared(&cfg.Redis, rules, log)
		if err != nil {
			for _, t := range local {
				t.Close()
			}
			return nil, parts, err
		}
		tiers = append(tiers, sh.store)
		parts.tiers = append(parts.tiers, tier{"redis", sh.store.Stats})
		maxObj = max(maxObj, int64(cfg.Redis.MaxObjectSize))
	}
	if len(tiers) == 0 {
		return nil, parts, nil
	}
	all := tiered.New(tiers...)
	var st store.Store = all
	if sh != nil {
		localStore := tiered.New(local...)
		sh.bus = fleet.New(fleet.Options{
			Client: sh.client,
			Stream: cfg.Redis.Prefix + "invalidate",
			Local:  localStore,
			PurgeHost: func(ctx context.Context, host string) (int, error) {
				return cache.PurgeStoreHost(ctx, localStore, host)
			},
			Logger: log,
		})
		st = fleet.Announcing(all, sh.bus)
	}
	c = cache.New(cache.Options{Store: st, Next: next, Rules: rules, MaxObjectSize: maxObj, Logger: log})
	parts.shared = sh
	parts.purgeHost = c.PurgeHost
	if sh != nil {
		parts.purgeHost = func(ctx context.Context, host string) (int, error) {
			n, err := c.PurgeHost(ctx, host)
			sh.bus.PurgedHost(host)
			return n, err
		}
	}
	parts.close = func() {
		c.Close()
		if sh != nil {
			sh.bus.Close()
		}
		all.Close() // the Redis tier sends what it has queued first, for a bounded time
		if sh != nil {
			sh.client.Close()
		}
	}
	return c, parts, nil
}

// openShared connects the Redis tier. Redis need not answer yet.
func openShared(cfg *config.Redis, rules semantics.Options, log *slog.Logger) (*shared, error) {
	client, err := newRedisClient(cfg)
	if err != nil {
		return nil, err
	}
	redis.SetLogger(redisLogger{log})
	sh := &shared{client: client}
	sh.up.Store(true)
	sh.store = redisstore.New(redisstore.Options{
		Client:        client,
		Prefix:        cfg.Prefix,
		MaxObjectSize: int64(cfg.MaxObjectSize),
		Timeout:       cfg.Timeout.D(),
		TTL:           func(m *store.Meta) time.Duration { return cache.Lifetime(m, rules, time.Now()) },
		AsyncCommit:   true,
		OnStateChange: sh.stateChanged(cfg, log),
		Logger:        log,
	})
	checkRedis(client, cfg, log)
	return sh, nil
}

// cacheRules are the heuristic freshness rules cfg sets.
func cacheRules(cfg *config.Cache) semantics.Options {
	rules := semantics.Options{HeuristicFraction: float64(cfg.HeuristicPercent) / 100, HeuristicMax: cfg.HeuristicMax.D()}
	if cfg.HeuristicPercent == 0 {
		rules.HeuristicFraction = -1 // off
	}
	if rules.HeuristicMax == 0 {
		rules.HeuristicMax = time.Nanosecond // a zero cap means no heuristic lifetime
	}
	return rules
}

// openLocalTiers opens this instance's own tiers, memory and disk, and
// says the largest body they store.
func openLocalTiers(cfg *config.Cache, parts *cacheParts, log *slog.Logger) (tiers []store.Store, maxObj int64, err error) {
	if cfg.Mem > 0 {
		m := mem.New(mem.Options{Capacity: int64(cfg.Mem), MaxObjectSize: int64(min(cfg.MaxObjectSizeMem, cfg.MaxObjectSize))})
		tiers = append(tiers, m)
		parts.tiers = append(parts.tiers, tier{"memory", m.Stats})
		maxObj = int64(min(cfg.MaxObjectSizeMem, cfg.MaxObjectSize))
	}
	dir := cfg.Dir
	explicit := dir != ""
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			log.Warn("no user cache directory; the cache is in memory only (set cache.dir or --cache-dir)", "err", err)
			dir = "off"
		} else {
			dir = filepath.Join(base, "sluice")
		}
	}
	if dir != "off" {
		d, err := disk.Open(disk.Options{Dir: dir, Capacity: int64(cfg.Disk), MaxObjectSize: int64(cfg.MaxObjectSize), Logger: log})
		switch {
		case err != nil && explicit:
			for _, t := range tiers {
				t.Close()
			}
			return nil, 0, fmt.Errorf("cache directory %s: %w", dir, err)
		case err != nil:
			log.Warn("cannot use the default cache directory; the cache is in memory only (set cache.dir or --cache-dir)", "dir", dir, "err", err)
		default:
			tiers = append(tiers, d)
			parts.tiers = append(parts.tiers, tier{"disk", d.Stats})
			maxObj = int64(cfg.MaxObjectSize)
			log.Info("disk cache", "dir", dir, "budget", cfg.Disk.String())
		}
	}
	return tiers, maxObj, nil
}
