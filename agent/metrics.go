package agent

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports every slot's status as Prometheus metrics. It reads Snapshot at scrape time,
// so an idle agent spends nothing on metrics between scrapes. The IMSI is never exported, and
// neither is the ICCID (it identifies the SIM's owner): slots are labelled by number only.
type Collector struct {
	sup *Supervisor

	state, since, signal, registered, lastSMS             *prometheus.Desc
	received, decodeErrs, storeErrs, resets, cycles, errs *prometheus.Desc
}

// NewCollector returns a collector over sup's slots.
func NewCollector(sup *Supervisor) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("ness_agent_slot_"+name, help, append([]string{"slot"}, labels...), nil)
	}
	return &Collector{
		sup:        sup,
		state:      d("state", "1 for the state the slot is in, 0 for the others.", "state"),
		since:      d("state_since_seconds", "Unix time the slot entered its state."),
		signal:     d("signal_dbm", "Received signal strength in dBm (absent when unknown)."),
		registered: d("registered", "1 when registered at home or roaming."),
		lastSMS:    d("last_sms_seconds", "Unix time of the last SMS read (absent before the first)."),
		received:   d("sms_received_total", "PDUs stored by the pipeline and deleted from the SIM."),
		decodeErrs: d("decode_errors_total", "PDUs the pipeline could not decode."),
		storeErrs:  d("store_errors_total", "PDUs the pipeline refused; they stayed on the SIM."),
		resets:     d("resets_total", "Re-initialisations and AT+CFUN=1,1 resets."),
		cycles:     d("power_cycles_total", "Power cycles through the slot's power lines."),
		errs:       d("errors_total", "Failed modem commands and escalations."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.since, c.signal, c.registered, c.lastSMS,
		c.received, c.decodeErrs, c.storeErrs, c.resets, c.cycles, c.errs} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.sup.Snapshot() {
		slot := strconv.Itoa(s.Slot)
		g := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{slot}, labels...)...)
		}
		ctr := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), slot)
		}
		for _, st := range States {
			v := 0.0
			if st == s.State {
				v = 1
			}
			g(c.state, v, string(st))
		}
		g(c.since, float64(s.Since.UnixNano())/1e9)
		if s.SignalDBm != 0 {
			g(c.signal, float64(s.SignalDBm))
		}
		reg := 0.0
		if s.Registration == "home" || s.Registration == "roaming" {
			reg = 1
		}
		g(c.registered, reg)
		if !s.LastSMS.IsZero() {
			g(c.lastSMS, float64(s.LastSMS.UnixNano())/1e9)
		}
		ctr(c.received, s.Received)
		ctr(c.decodeErrs, s.DecodeErrors)
		ctr(c.storeErrs, s.StoreErrors)
		ctr(c.resets, s.Resets)
		ctr(c.cycles, s.PowerCycles)
		ctr(c.errs, s.Errors)
	}
}

// RegisterMetrics registers sup's collector on reg (main passes its own registry, served on
// NESS_AGENT_METRICS_ADDR).
func RegisterMetrics(reg prometheus.Registerer, sup *Supervisor) error {
	return reg.Register(NewCollector(sup))
}
