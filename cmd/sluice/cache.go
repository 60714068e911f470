package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"sluice/internal/cache"
	"sluice/internal/cache/semantics"
	"sluice/internal/cache/store"
	"sluice/internal/cache/store/disk"
	"sluice/internal/cache/store/mem"
	"sluice/internal/cache/store/tiered"
	"sluice/internal/config"
)

// tier is one cache tier as metrics and the status page show it.
type tier struct {
	name  string // "memory", "disk"
	stats func() store.Stats
}

// openCache builds the cache tiers cfg asks for, in front of next. It
// returns nil when caching is off. close releases the tiers.
func openCache(cfg *config.Cache, next http.RoundTripper, log *slog.Logger) (c *cache.Cache, named []tier, close func(), err error) {
	if !cfg.Enabled() {
		return nil, nil, func() {}, nil
	}
	var tiers []store.Store
	if cfg.Mem > 0 {
		m := mem.New(mem.Options{Capacity: int64(cfg.Mem), MaxObjectSize: int64(min(cfg.MaxObjectSizeMem, cfg.MaxObjectSize))})
		tiers = append(tiers, m)
		named = append(named, tier{"memory", m.Stats})
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
			return nil, nil, nil, fmt.Errorf("cache directory %s: %w", dir, err)
		case err != nil:
			log.Warn("cannot use the default cache directory; the cache is in memory only (set cache.dir or --cache-dir)", "dir", dir, "err", err)
		default:
			tiers = append(tiers, d)
			named = append(named, tier{"disk", d.Stats})
			log.Info("disk cache", "dir", dir, "budget", cfg.Disk.String())
		}
	}
	if len(tiers) == 0 {
		return nil, nil, func() {}, nil
	}
	st := tiered.New(tiers...)
	rules := semantics.Options{HeuristicFraction: float64(cfg.HeuristicPercent) / 100, HeuristicMax: cfg.HeuristicMax.D()}
	if cfg.HeuristicPercent == 0 {
		rules.HeuristicFraction = -1 // off
	}
	if rules.HeuristicMax == 0 {
		rules.HeuristicMax = time.Nanosecond // a zero cap means no heuristic lifetime
	}
	maxObj := int64(cfg.MaxObjectSize)
	if dir == "off" || len(tiers) == 1 && cfg.Mem > 0 {
		maxObj = int64(min(cfg.MaxObjectSizeMem, cfg.MaxObjectSize))
	}
	c = cache.New(cache.Options{Store: st, Next: next, Rules: rules, MaxObjectSize: maxObj, Logger: log})
	return c, named, func() { c.Close(); st.Close() }, nil
}
