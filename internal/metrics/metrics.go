// Package metrics exports sluice's Prometheus metrics: requests, bytes,
// cache state, blocks, authentication failures, upstream timings, and the
// Go runtime's and the process's own metrics.
//
// A [Metrics] owns its registry: nothing is registered globally or at
// init, so tests and a reload can build as many as they like. The proxy
// calls [Metrics.Observe] once per finished request with the same
// [accesslog.Record] it logs, and the upstream transport and the CONNECT
// dialer call [Metrics.UpstreamConnect] and [Metrics.UpstreamFirstByte];
// gauges that describe the present (open connections, cache sizes) are
// read through functions at scrape time.
//
// Every label has a bounded set of values, fixed here or by the operator's
// configuration: there is deliberately no label per host, user or client,
// which would grow without end. The status page's top hosts are in
// internal/stats instead.
//
// Requests are classified by internal/metrics/outcome, shared with
// internal/stats so that the page and Prometheus agree.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sluice/internal/accesslog"
	"sluice/internal/metrics/outcome"
)

// Options configures [New]. Every function runs at scrape time, possibly
// concurrently with the proxy; nil leaves its metrics out.
type Options struct {
	OpenConns   func() int64  // client connections open now
	OpenTunnels func() int64  // CONNECT tunnels (and upgraded connections) open now
	CacheTiers  func() []Tier // the cache tiers' state
	// Shared reports the shared cache tier's state; false when there is
	// none (then its metrics are left out).
	Shared  func() (Shared, bool)
	Version string // sluice's version, the version label of sluice_build_info
}

// Metrics is a registry of sluice's metrics and the counters behind them.
// Its methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	requests  *requestCounter
	lists     *listCounter
	bytesIn   prometheus.Counter
	bytesOut  prometheus.Counter
	fromCache prometheus.Counter
	auth      [outcome.NumAuth]prometheus.Counter // indexed by outcome.Auth; [0] unused

	connect      prometheus.Histogram
	firstByte    prometheus.Histogram
	connectError map[string]prometheus.Counter // by reason; read-only after New
}

// upstreamBuckets spans 1 ms to 30 s, in seconds: a LAN origin answers in
// a few milliseconds, a distant or overloaded one in seconds.
var upstreamBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New builds the metrics and their registry.
func New(o Options) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg:      reg,
		requests: newRequestCounter(),
		lists:    newListCounter(),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_client_received_bytes_total",
			Help: "Body bytes received from clients: request bodies, and what clients sent through tunnels.",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_client_sent_bytes_total",
			Help: "Body bytes sent to clients: response bodies, and what origins sent through tunnels.",
		}),
		fromCache: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_cache_served_bytes_total",
			Help: "Body bytes sent to clients from the cache (hits and revalidated responses): bytes the origins did not have to send.",
		}),
		connect: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sluice_upstream_connect_duration_seconds",
			Help:    "Time to open a connection to an origin (name resolution, TCP, and TLS for https), successful attempts only.",
			Buckets: upstreamBuckets,
		}),
		firstByte: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sluice_upstream_first_byte_duration_seconds",
			Help:    "Time from sending a request to an origin to the first byte of its response.",
			Buckets: upstreamBuckets,
		}),
		connectError: make(map[string]prometheus.Counter, len(connectReasons)),
	}

	auth := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_auth_failures_total",
		Help: "Requests refused for proxy authentication, by reason: no_credentials (a 407 challenge, also every browser's first try), wrong_credentials (a 407 to credentials not accepted), probe_resistance (answered as a plain web server).",
	}, []string{"reason"})
	for a := 1; a < outcome.NumAuth; a++ {
		m.auth[a] = auth.WithLabelValues(outcome.Auth(a).String())
	}
	connErrs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_upstream_connect_errors_total",
		Help: "Failed attempts to connect to an origin, by reason: dns, timeout, refused, unreachable, tls, other.",
	}, []string{"reason"})
	for _, r := range connectReasons {
		m.connectError[r] = connErrs.WithLabelValues(r)
	}
	hitRatio := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_cache_hit_ratio",
		Help: `Share of cache lookups since start served from the cache (hits and revalidated responses over those and misses); 0 before the first lookup. For a rate, use sluice_requests_total{result=~"hit|revalidated|miss"}.`,
	}, func() float64 { return ratio(m.requests.lookups()) })
	version := o.Version
	if version == "" {
		version = "unknown"
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "sluice_build_info",
		Help:        "Always 1; the version label says which sluice is running.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)

	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
		m.requests, m.lists.vec, m.bytesIn, m.bytesOut, m.fromCache,
		auth, m.connect, m.firstByte, connErrs, hitRatio,
	)
	if o.OpenConns != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sluice_active_client_connections",
			Help: "Client connections open now.",
		}, func() float64 { return float64(o.OpenConns()) }))
	}
	if o.OpenTunnels != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sluice_active_tunnels",
			Help: "CONNECT tunnels and upgraded (WebSocket) connections open now.",
		}, func() float64 { return float64(o.OpenTunnels()) }))
	}
	if o.CacheTiers != nil {
		reg.MustRegister(newTierCollector(o.CacheTiers, m.requests.lookups))
	}
	if o.Shared != nil {
		reg.MustRegister(newSharedCollector(o.Shared))
	}

	m.handler = promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:            reg, // counts its own errors in promhttp_metric_handler_errors_total
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	return m
}

// Handler returns the handler that serves the metrics in the Prometheus
// text format (or another format the scraper asks for).
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registry returns the registry behind Handler, to add collectors to or
// to gather from in tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Observe counts a finished request. The proxy calls it exactly once per
// request, with the Record it logs; it does not keep rec. It allocates
// nothing except the first time a block list is seen.
//
// Authentication failures are derived from the record (a 407 the proxy
// answered, or an answer under probe resistance), so there is no separate
// call for them.
func (m *Metrics) Observe(rec *accesslog.Record) {
	o := outcome.Of(rec)
	m.requests.inc(methodIndex(rec.Method), classIndex(rec.Status), o.Result)
	if rec.BytesIn > 0 {
		m.bytesIn.Add(float64(rec.BytesIn))
	}
	if rec.BytesOut > 0 {
		m.bytesOut.Add(float64(rec.BytesOut))
		if o.Result.FromCache() {
			m.fromCache.Add(float64(rec.BytesOut))
		}
	}
	if o.Blocked {
		m.lists.inc(outcome.List(rec.Rule))
	}
	if o.Auth != outcome.NoAuthFailure {
		m.auth[o.Auth].Inc()
	}
}

// UpstreamConnect records an attempt to connect to an origin (or a parent
// proxy) that took d: its duration when it succeeded (err nil), its
// reason when it failed. A cancellation is the client's doing and is not
// recorded at all. Call it for attempts only: a destination that the
// policy denied before dialing is not a connection error.
func (m *Metrics) UpstreamConnect(d time.Duration, err error) {
	if err == nil {
		m.connect.Observe(d.Seconds())
		return
	}
	if reason, ok := connectReason(err); ok {
		m.connectError[reason].Inc()
	}
}

// UpstreamFirstByte records the time from sending a request to an origin
// to the first byte of its response.
func (m *Metrics) UpstreamFirstByte(d time.Duration) {
	m.firstByte.Observe(d.Seconds())
}
