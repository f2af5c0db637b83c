package app

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/neko-webrtc/neko/internal/session"
)

// newRegistry builds the Prometheus registry with the process, Go runtime
// and room metrics; the HTTP and WebSocket layers add their own.
func (a *App) newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	count := func(pred func(*session.Session) bool) func() float64 {
		return func() float64 {
			n := 0
			for _, s := range a.sessions.List() {
				if pred(s) {
					n++
				}
			}
			return float64(n)
		}
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "neko_sessions", Help: "Sessions (logged-in members)."},
			count(func(*session.Session) bool { return true })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "neko_sessions_connected", Help: "Sessions with an open WebSocket."},
			count((*session.Session).IsConnected)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "neko_sessions_watching", Help: "Sessions whose media peer is connected (paused ones, in private mode, included)."},
			count(func(s *session.Session) bool { return s.State().IsWatching })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "neko_webrtc_peers", Help: "Live WebRTC peer connections."},
			func() float64 { return float64(a.webrtc.Peers()) }),
	)
	hostChanges := prometheus.NewCounter(prometheus.CounterOpts{Name: "neko_host_changes_total", Help: "Changes of the hosting session."})
	reg.MustRegister(hostChanges)
	a.sessions.OnHostChanged(func(_, _ *session.Session) { hostChanges.Inc() })
	a.registerCaptureMetrics(reg)
	reg.MustRegister(newWebRTCCollector(a.webrtc))
	return reg
}
