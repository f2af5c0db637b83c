package webrtc

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
)

// rtcpStats is what a viewer's RTCP says of the video it receives: its
// loss and round-trip time from its receiver reports, and the
// retransmission and keyframe requests it sent. It is read off the RTCP
// the peer reads anyway, so that no interceptor has to look at every
// outgoing packet for the sake of metrics.
type rtcpStats struct {
	nacks, plis  atomic.Uint64
	fractionLost atomic.Uint64 // math.Float64bits
	packetsLost  atomic.Int64  // cumulative, as reported
	rtt          atomic.Int64  // ns; 0 until a report echoes a sender report
	reported     atomic.Bool   // a reception report of the stream came
}

// record accounts for the packets of one RTCP compound received at now;
// ssrc is the video stream's.
func (r *rtcpStats) record(pkts []rtcp.Packet, ssrc uint32, now time.Time) {
	for _, pkt := range pkts {
		switch pkt := pkt.(type) {
		case *rtcp.TransportLayerNack:
			if pkt.MediaSSRC == ssrc {
				r.nacks.Add(1)
			}
		case *rtcp.PictureLossIndication:
			if pkt.MediaSSRC == ssrc {
				r.plis.Add(1)
			}
		case *rtcp.ReceiverReport:
			r.reports(pkt.Reports, ssrc, now)
		case *rtcp.SenderReport:
			r.reports(pkt.Reports, ssrc, now)
		}
	}
}

func (r *rtcpStats) reports(blocks []rtcp.ReceptionReport, ssrc uint32, now time.Time) {
	for _, b := range blocks {
		if b.SSRC != ssrc {
			continue
		}
		r.reported.Store(true)
		r.fractionLost.Store(math.Float64bits(float64(b.FractionLost) / 256))
		// A 24-bit two's complement count: duplicates can make it negative.
		r.packetsLost.Store(int64(int32(b.TotalLost<<8) >> 8))
		if rtt, ok := reportRTT(b, now); ok {
			r.rtt.Store(int64(rtt))
		}
	}
}

// reportRTT is the round-trip time a reception report gives (RFC 3550
// section 6.4.1): its arrival minus the echoed sender report's time (LSR)
// and the delay the receiver held it (DLSR), in 1/65536 s. Our sender
// reports carry the wall clock, as now does.
func reportRTT(b rtcp.ReceptionReport, now time.Time) (time.Duration, bool) {
	if b.LastSenderReport == 0 {
		return 0, false // no sender report received yet
	}
	d := compactNTP(now) - b.LastSenderReport - b.Delay
	if d > math.MaxInt32 {
		return 0, false // the clock went back, or a bogus report
	}
	return time.Duration(uint64(d) * uint64(time.Second) >> 16), true
}

// compactNTP is the middle 32 bits of t's NTP timestamp.
func compactNTP(t time.Time) uint32 {
	const ntpEpochOffset = 2208988800 // 1900 to 1970, in seconds
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return uint32((secs<<32 | frac) >> 16)
}
