package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Tier is one cache tier's state, as Options.CacheTiers reports it at
// scrape time.
type Tier struct {
	Name     string // "memory", "disk", "redis": a small fixed set, used as the tier label
	Bytes    int64  // bytes held, bodies and metadata
	Objects  int64  // entries held
	Capacity int64  // budget in bytes; 0 when unbounded
	// Hits counts the responses this tier served without contacting the
	// origin since start (cache.Stats' MemHits, DiskHits). Revalidated
	// responses are not attributed to a tier.
	Hits int64
}

// tierCollector reads the cache tiers once per scrape.
type tierCollector struct {
	tiers    func() []Tier
	lookups  func() (fromCache, all uint64)
	bytes    *prometheus.Desc
	objects  *prometheus.Desc
	capacity *prometheus.Desc
	hits     *prometheus.Desc
	ratio    *prometheus.Desc
}

var _ prometheus.Collector = (*tierCollector)(nil)

func newTierCollector(tiers func() []Tier, lookups func() (uint64, uint64)) *tierCollector {
	tier := []string{"tier"}
	return &tierCollector{
		tiers:   tiers,
		lookups: lookups,
		bytes: prometheus.NewDesc("sluice_cache_size_bytes",
			"Bytes held by the cache tier, bodies and metadata.", tier, nil),
		objects: prometheus.NewDesc("sluice_cache_objects",
			"Responses held by the cache tier.", tier, nil),
		capacity: prometheus.NewDesc("sluice_cache_capacity_bytes",
			"Capacity of the cache tier in bytes; 0 when unbounded.", tier, nil),
		hits: prometheus.NewDesc("sluice_cache_tier_hits_total",
			"Responses the cache tier served without contacting the origin.", tier, nil),
		ratio: prometheus.NewDesc("sluice_cache_tier_hit_ratio",
			"Share of cache lookups since start served by the tier without contacting the origin (0 before the first lookup).", tier, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *tierCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bytes
	ch <- c.objects
	ch <- c.capacity
	ch <- c.hits
	ch <- c.ratio
}

// Collect implements prometheus.Collector.
func (c *tierCollector) Collect(ch chan<- prometheus.Metric) {
	_, all := c.lookups()
	for _, t := range c.tiers() {
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(t.Bytes), t.Name)
		ch <- prometheus.MustNewConstMetric(c.objects, prometheus.GaugeValue, float64(t.Objects), t.Name)
		ch <- prometheus.MustNewConstMetric(c.capacity, prometheus.GaugeValue, float64(t.Capacity), t.Name)
		ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(t.Hits), t.Name)
		ch <- prometheus.MustNewConstMetric(c.ratio, prometheus.GaugeValue, ratio(uint64(max(t.Hits, 0)), all), t.Name)
	}
}

// ratio returns n/d, or 0 when d is 0; never more than 1.
func ratio(n, d uint64) float64 {
	if d == 0 {
		return 0
	}
	return min(float64(n)/float64(d), 1)
}
