package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/neko-webrtc/neko/internal/webrtc"
)

// webrtcCollector exports the media plane's state at scrape time: per
// video quality (label video_id) the encoder's output and its viewers,
// per peer (label session_id) what its connection reports.
type webrtcCollector struct {
	m *webrtc.Manager

	videoFPS, videoBitrate, videoFrames, videoBytes, videoKeyframes, videoViewers, videoQueued *prometheus.Desc
	encoderQueued, encoderLatency                                                              *prometheus.Desc

	rtt, fractionLost, packetsLost, nacks, plis, sentBytes, dropped, padding, estimate *prometheus.Desc

	malformed *prometheus.Desc
}

func newWebRTCCollector(m *webrtc.Manager) *webrtcCollector {
	video := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"video_id"}, nil)
	}
	peer := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"session_id"}, nil)
	}
	return &webrtcCollector{
		m: m,

		videoFPS:       video("neko_video_fps", "Frames per second the quality's encoder produced over the last second."),
		videoBitrate:   video("neko_video_bitrate_bits", "Bit rate of the quality's encoder output in bits per second, smoothed."),
		videoFrames:    video("neko_video_frames_total", "Frames the quality's encoder produced."),
		videoBytes:     video("neko_video_bytes_total", "Bytes the quality's encoder produced."),
		videoKeyframes: video("neko_video_keyframes_total", "Keyframes the quality's encoder produced."),
		videoViewers:   video("neko_video_viewers", "Viewers receiving the quality."),
		videoQueued:    video("neko_video_queued_samples", "Samples waiting in the viewers' send queues of this quality."),
		encoderQueued:  video("neko_video_encoder_queue_frames", "Raw frames waiting for the quality's encoder (at most 2: older ones are dropped); only for pipelines fed by the server's own capture."),
		encoderLatency: video("neko_video_encoder_latency_seconds", "Time from a frame entering the quality's pipeline to its encoded output (queue, conversion, encoding), smoothed; 0 until measured."),

		rtt:          peer("neko_webrtc_rtt_seconds", "Round-trip time to the peer in seconds, from its RTCP receiver reports or else its ICE checks; 0 until measured."),
		fractionLost: peer("neko_webrtc_fraction_lost", "Fraction of the video packets lost, as the peer last reported it."),
		packetsLost:  peer("neko_webrtc_packets_lost", "Video packets lost, cumulative as reported by the peer."),
		nacks:        peer("neko_webrtc_nacks_total", "Retransmission requests (NACKs) the peer sent for its video."),
		plis:         peer("neko_webrtc_plis_total", "Keyframe requests (PLIs) the peer sent for its video."),
		sentBytes:    peer("neko_webrtc_sent_bytes_total", "Bytes sent to the peer over its ICE transport (media, padding, RTCP, data channel)."),
		dropped:      peer("neko_webrtc_dropped_samples_total", "Samples dropped from the peer's send queues because it fell behind."),
		padding:      peer("neko_webrtc_padding_packets_total", "Padding packets sent to the peer to probe its bandwidth."),
		estimate:     peer("neko_webrtc_estimated_bitrate_bits", "Estimated bandwidth to the peer in bits per second (peers with a bandwidth estimator only)."),

		malformed: prometheus.NewDesc("neko_webrtc_datachannel_malformed_total",
			"Binary data-channel messages dropped because they did not decode (short, unknown op, length mismatch).", nil, nil),
	}
}

func (c *webrtcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.videoFPS, c.videoBitrate, c.videoFrames, c.videoBytes, c.videoKeyframes, c.videoViewers, c.videoQueued,
		c.encoderQueued, c.encoderLatency,
		c.rtt, c.fractionLost, c.packetsLost, c.nacks, c.plis, c.sentBytes, c.dropped, c.padding, c.estimate,
		c.malformed,
	} {
		ch <- d
	}
}

func (c *webrtcCollector) Collect(ch chan<- prometheus.Metric) {
	if c.m == nil {
		return
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	ch <- prometheus.MustNewConstMetric(c.malformed, counter, float64(c.m.MalformedMessages()))
	for _, q := range c.m.QualityStats() {
		emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64) {
			ch <- prometheus.MustNewConstMetric(d, t, v, q.ID)
		}
		emit(c.videoFPS, gauge, q.FPS)
		emit(c.videoBitrate, gauge, float64(q.Bitrate))
		emit(c.videoFrames, counter, float64(q.Samples))
		emit(c.videoBytes, counter, float64(q.Bytes))
		emit(c.videoKeyframes, counter, float64(q.Keyframes))
		emit(c.videoViewers, gauge, float64(q.Viewers))
		emit(c.videoQueued, gauge, float64(q.QueuedSamples))
		emit(c.encoderLatency, gauge, q.EncoderLatency.Seconds())
		if q.EncoderFed {
			emit(c.encoderQueued, gauge, float64(q.EncoderQueued))
		}
	}
	for _, p := range c.m.PeerStats() {
		emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64) {
			ch <- prometheus.MustNewConstMetric(d, t, v, p.SessionID)
		}
		emit(c.rtt, gauge, p.RTT.Seconds())
		emit(c.sentBytes, counter, float64(p.BytesSent))
		emit(c.dropped, counter, float64(p.DroppedSamples))
		emit(c.padding, counter, float64(p.Padding))
		// Loss and requests come from the RTP stream statistics: left
		// out rather than reported as 0 when there are none.
		if p.HasRTP {
			emit(c.fractionLost, gauge, p.FractionLost)
			emit(c.packetsLost, gauge, float64(p.PacketsLost))
			emit(c.nacks, counter, float64(p.NACKs))
			emit(c.plis, counter, float64(p.PLIs))
		}
		if p.EstimatedBitrate > 0 {
			emit(c.estimate, gauge, float64(p.EstimatedBitrate))
		}
	}
}
