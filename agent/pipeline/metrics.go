package pipeline

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the pipeline's Prometheus counters and gauges (all named ness_agent_*).
type Metrics struct {
	PartsStored         prometheus.Counter
	PartsDuplicate      prometheus.Counter
	PartsRefused        *prometheus.CounterVec // reason: full, no_iccid, shutdown, error
	Junk                *prometheus.CounterVec // kind: malformed, wap-push, …
	Sealed              *prometheus.CounterVec // to: renter, provider
	Incomplete          prometheus.Counter
	Published           *prometheus.CounterVec // result: ok, republished, error
	Receipts            *prometheus.CounterVec // result: acked, repeat, invalid, bad_topic
	Leases              *prometheus.CounterVec // result: accepted, repeat, rejected
	HubReady            prometheus.Counter     // a hub's "ready": unreceipted messages published again
	Errors              *prometheus.CounterVec // where: seal, outbox, cert, status
	InFlight            prometheus.Gauge
	Publishing          prometheus.Gauge // 1 while a valid certificate and hub key allow publishing
	ReassemblyPending   prometheus.Gauge
	OutboxRecords       *prometheus.GaugeVec // state: parts, assembled, sealed, published
	OutboxFull          prometheus.Gauge
	OutboxOldestSeconds prometheus.Gauge
	PublishSeconds      prometheus.Histogram
	ReadToPubackSeconds prometheus.Histogram
}

// NewMetrics creates the metrics and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	m := &Metrics{
		PartsStored:    prometheus.NewCounter(prometheus.CounterOpts{Name: "ness_agent_parts_stored_total", Help: "PDUs written to the outbox."}),
		PartsDuplicate: prometheus.NewCounter(prometheus.CounterOpts{Name: "ness_agent_parts_duplicate_total", Help: "PDUs read again that the outbox already had."}),
		PartsRefused:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ness_agent_parts_refused_total", Help: "PDUs left on the SIM, by reason."}, []string{"reason"}),
		Junk:           prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ness_agent_junk_total", Help: "Messages dropped as junk, by kind."}, []string{"kind"}),
		Sealed:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ness_agent_messages_sealed_total", Help: "Messages sealed and signed, by recipient."}, []string{"to"}),
		Incomplete:     prometheus.NewCounter(prometheus.CounterOpts{Name: "ness_agent_messages_incomplete_total", Help: "Multipart messages sealed with parts missing."}),
		Published:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ness_agent_publish_total", Help: "Publish attempts, by result."}, []string{"result"}),
		Receipts:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ness_agent_receipts_total", Help: "Receipts from the hub, by result."}, []string{"result"}),
		Leases:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ness_agent_leases_total", Help: "Leases from the hub, by result."}, []string{"result"}),
		HubReady: prometheus.NewCounter(prometheus.CounterOpts{Name: "ness_agent_hub_ready_total",
			Help: "Ready messages from a hub that has just subscribed (what has no receipt is published again)."}),
		Errors:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ness_agent_pipeline_errors_total", Help: "Pipeline errors, by where."}, []string{"where"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ness_agent_publish_inflight", Help: "Publishes waiting for a PUBACK."}),
		Publishing: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ness_agent_publishing",
			Help: "1 while the agent may publish (valid certificate, pinned hub key); 0 in store-only mode or with an invalid certificate (alarm)."}),
		ReassemblyPending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ness_agent_reassembly_pending",
			Help: "Incomplete multipart sets held."}),
		OutboxRecords:       prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ness_agent_outbox_records", Help: "Outbox records by state."}, []string{"state"}),
		OutboxFull:          prometheus.NewGauge(prometheus.GaugeOpts{Name: "ness_agent_outbox_full", Help: "1 when the outbox is full and SMS wait on the SIMs (alarm)."}),
		OutboxOldestSeconds: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ness_agent_outbox_oldest_seconds", Help: "Age of the oldest record waiting in the outbox."}),
		PublishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ness_agent_publish_seconds",
			Help: "Time from publish to the broker's PUBACK.", Buckets: buckets}),
		ReadToPubackSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ness_agent_read_to_puback_seconds",
			Help: "Time from reading an SMS from the SIM to the broker's PUBACK.", Buckets: buckets}),
	}
	if reg != nil {
		reg.MustRegister(m.PartsStored, m.PartsDuplicate, m.PartsRefused, m.Junk, m.Sealed, m.Incomplete,
			m.Published, m.Receipts, m.Leases, m.HubReady, m.Errors, m.InFlight, m.Publishing, m.ReassemblyPending, m.OutboxRecords,
			m.OutboxFull, m.OutboxOldestSeconds, m.PublishSeconds, m.ReadToPubackSeconds)
	}
	return m
}
