package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/neko-webrtc/neko/internal/capture"
)

// registerCaptureMetrics exports, per capture stream (each video quality
// and the audio), whether its pipeline runs and how many it started: the
// encoders must not grow with the number of viewers.
func (a *App) registerCaptureMetrics(reg prometheus.Registerer) {
	var streams []*capture.Stream
	if a.video != nil {
		streams = append(streams, a.video.Streams()...)
	}
	if a.audio != nil {
		streams = append(streams, a.audio)
	}
	for _, s := range streams {
		labels := prometheus.Labels{"stream": s.ID()}
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "neko_capture_pipelines_running",
				Help: "Capture pipelines running (0 or 1 per stream).", ConstLabels: labels},
				func() float64 {
					if s.Running() {
						return 1
					}
					return 0
				}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "neko_capture_pipelines_started_total",
				Help: "Capture pipelines started per stream.", ConstLabels: labels},
				func() float64 { return float64(s.Started()) }),
		)
	}
}
