package websocket

import "github.com/prometheus/client_golang/prometheus"

// Metrics count WebSocket traffic. A nil *Metrics counts nothing.
type Metrics struct {
	in      *prometheus.CounterVec
	out     prometheus.Counter
	dropped prometheus.Counter
	slow    prometheus.Counter
	conns   prometheus.Gauge
}

// NewMetrics registers the WebSocket metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		in: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "neko_ws_events_in_total", Help: "WebSocket events received, by event (unknown events as \"unknown\").",
		}, []string{"event"}),
		out: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "neko_ws_events_out_total", Help: "WebSocket messages sent.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "neko_ws_events_dropped_total", Help: "WebSocket messages ignored: malformed, refused or over the rate limit.",
		}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "neko_ws_slow_disconnects_total", Help: "Connections closed because the client did not read fast enough.",
		}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "neko_ws_connections", Help: "Open WebSocket connections.",
		}),
	}
	reg.MustRegister(m.in, m.out, m.dropped, m.slow, m.conns)
	return m
}

func (m *Metrics) eventIn(ev string) {
	if m != nil {
		m.in.WithLabelValues(ev).Inc()
	}
}

func (m *Metrics) sent() {
	if m != nil {
		m.out.Inc()
	}
}

func (m *Metrics) drop() {
	if m != nil {
		m.dropped.Inc()
	}
}

func (m *Metrics) slowClient() {
	if m != nil {
		m.slow.Inc()
	}
}

func (m *Metrics) connected(delta float64) {
	if m != nil {
		m.conns.Add(delta)
	}
}
