package metrics

import "github.com/prometheus/client_golang/prometheus"

// Shared is the state of the cache tier shared by a fleet (Redis) and of
// the invalidations passed between its instances, as Options.Shared
// reports it at scrape time.
type Shared struct {
	Up           bool  // the proxy is calling Redis (not stopped after failures)
	Following    bool  // the proxy reads the fleet's invalidations now
	StateChanges int64 // times Up changed since start
	Sent         int64 // invalidations this instance published
	Received     int64 // invalidations of other instances applied here
	Dropped      int64 // invalidations not published: too many waited while Redis was away
}

// sharedCollector reads the shared tier's state once per scrape. It
// exports nothing while there is no shared tier.
type sharedCollector struct {
	state     func() (Shared, bool)
	up        *prometheus.Desc
	following *prometheus.Desc
	changes   *prometheus.Desc
	inval     *prometheus.Desc
}

var _ prometheus.Collector = (*sharedCollector)(nil)

func newSharedCollector(state func() (Shared, bool)) *sharedCollector {
	return &sharedCollector{
		state: state,
		up: prometheus.NewDesc("sluice_cache_shared_up",
			"1 while the proxy uses the shared (Redis) cache tier; 0 after calls to it failed, until it answers again (requests are then served from the local tiers and origins).", nil, nil),
		following: prometheus.NewDesc("sluice_fleet_invalidations_following",
			"1 while the proxy follows the fleet's invalidation stream in Redis, so other instances' purges reach its local tiers.", nil, nil),
		changes: prometheus.NewDesc("sluice_cache_shared_state_changes_total",
			"Times the shared tier went down or came back.", nil, nil),
		inval: prometheus.NewDesc("sluice_fleet_invalidations_total",
			"Invalidations (PURGE, unsafe methods, host purges) passed between the fleet's instances: sent by this one, received from others and applied to the local tiers, or dropped because too many waited while Redis was away.", []string{"direction"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *sharedCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.following
	ch <- c.changes
	ch <- c.inval
}

// Collect implements prometheus.Collector.
func (c *sharedCollector) Collect(ch chan<- prometheus.Metric) {
	s, ok := c.state()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, b2f(s.Up))
	ch <- prometheus.MustNewConstMetric(c.following, prometheus.GaugeValue, b2f(s.Following))
	ch <- prometheus.MustNewConstMetric(c.changes, prometheus.CounterValue, float64(s.StateChanges))
	ch <- prometheus.MustNewConstMetric(c.inval, prometheus.CounterValue, float64(s.Sent), "sent")
	ch <- prometheus.MustNewConstMetric(c.inval, prometheus.CounterValue, float64(s.Received), "received")
	ch <- prometheus.MustNewConstMetric(c.inval, prometheus.CounterValue, float64(s.Dropped), "dropped")
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
