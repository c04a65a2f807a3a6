package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Metrics are the ingester's Prometheus collectors.
type Metrics struct {
	messages      *prometheus.CounterVec // result: stored, duplicate
	dropped       *prometheus.CounterVec // reason
	statuses      prometheus.Counter
	statusDropped *prometheus.CounterVec // reason
	notifyErrors  prometheus.Counter
	readySent     prometheus.Counter
	duration      prometheus.Histogram
}

// NewMetrics makes the collectors and registers them with reg (nil: not registered). Every
// drop reason starts at 0, so a dashboard shows the series before the first drop.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ness_hub_ingest_messages_total",
			Help: "SMS accepted from agents: result=stored (new) or duplicate (already stored, receipt sent again).",
		}, []string{"result"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ness_hub_ingest_dropped_total",
			Help: "SMS payloads dropped, by reason.",
		}, []string{"reason"}),
		statuses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ness_hub_ingest_statuses_total",
			Help: "Agent status messages (including last wills) applied.",
		}),
		statusDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ness_hub_ingest_status_dropped_total",
			Help: "Agent status payloads dropped, by reason.",
		}, []string{"reason"}),
		notifyErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ness_hub_ingest_notify_errors_total",
			Help: "Stored messages whose live-delivery notification failed.",
		}),
		readySent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ness_hub_ingest_ready_sent_total",
			Help: "Ready messages sent to agents after the hub (re)subscribed (each makes the agent publish again what has no receipt).",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ness_hub_ingest_sms_seconds",
			Help:    "Time to verify, store and receipt one SMS.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	for _, r := range Reasons {
		m.dropped.WithLabelValues(r)
		m.statusDropped.WithLabelValues(r)
	}
	m.messages.WithLabelValues("stored")
	m.messages.WithLabelValues("duplicate")
	if reg != nil {
		reg.MustRegister(m.messages, m.dropped, m.statuses, m.statusDropped, m.notifyErrors, m.readySent, m.duration)
	}
	return m
}

// Counts is a snapshot of the counters, for tests and logs.
type Counts struct {
	Stored, Duplicate int
	Dropped           map[string]int // by reason, only non-zero
	Statuses          int
	StatusDropped     map[string]int
	ReadySent         int
}

// Counts reads the counters.
func (m *Metrics) Counts() Counts {
	c := Counts{
		Stored:        int(value(m.messages.WithLabelValues("stored"))),
		Duplicate:     int(value(m.messages.WithLabelValues("duplicate"))),
		Statuses:      int(value(m.statuses)),
		ReadySent:     int(value(m.readySent)),
		Dropped:       map[string]int{},
		StatusDropped: map[string]int{},
	}
	for _, r := range Reasons {
		if n := int(value(m.dropped.WithLabelValues(r))); n > 0 {
			c.Dropped[r] = n
		}
		if n := int(value(m.statusDropped.WithLabelValues(r))); n > 0 {
			c.StatusDropped[r] = n
		}
	}
	return c
}

func value(c prometheus.Counter) float64 {
	var pb dto.Metric
	if err := c.Write(&pb); err != nil {
		return 0
	}
	return pb.GetCounter().GetValue()
}
