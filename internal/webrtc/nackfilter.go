package webrtc

import (
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
)

// nackFilter drops a viewer's retransmission requests for packets sent
// before its track last changed source. Those packets belong to a stream
// the viewer no longer decodes (the new one starts at a keyframe), and
// after a downgrade on a collapsed link there are hundreds of them: resent
// by pion's NACK responder, they would fill the very bottleneck the
// downgrade was meant to relieve and bury the new stream's keyframe.
//
// It sits first in the RTCP read chain and rewrites the compound packet
// before the responder parses it.
type nackFilter struct {
	interceptor.NoOp
	mu    sync.Mutex
	floor map[uint32]uint16 // SSRC → first sequence number of the current source
}

type nackFilterFactory struct {
	onNew func(*nackFilter)
}

func (f nackFilterFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	n := &nackFilter{floor: map[uint32]uint16{}}
	if f.onNew != nil {
		f.onNew(n)
	}
	return n, nil
}

// switched records that the track with ssrc sends a new source from seq on.
func (n *nackFilter) switched(ssrc uint32, seq uint16) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.floor[ssrc] = seq
}

// BindRTCPReader filters the NACKs of every RTCP packet read.
func (n *nackFilter) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		i, attr, err := reader.Read(b, a)
		if err != nil {
			return i, attr, err
		}
		return n.filter(b, i), attr, nil
	})
}

// filter rewrites b[:size] without the stale NACK entries and returns the
// new size; anything it cannot parse passes unchanged.
func (n *nackFilter) filter(b []byte, size int) int {
	n.mu.Lock()
	if len(n.floor) == 0 {
		n.mu.Unlock()
		return size
	}
	floors := make(map[uint32]uint16, len(n.floor))
	for k, v := range n.floor {
		floors[k] = v
	}
	n.mu.Unlock()

	pkts, err := rtcp.Unmarshal(b[:size])
	if err != nil {
		return size
	}
	changed := false
	out := pkts[:0]
	for _, p := range pkts {
		nack, ok := p.(*rtcp.TransportLayerNack)
		if !ok {
			out = append(out, p)
			continue
		}
		floor, ok := floors[nack.MediaSSRC]
		if !ok {
			out = append(out, p)
			continue
		}
		var keep []uint16
		for _, pair := range nack.Nacks {
			for _, seq := range pair.PacketList() {
				// Before the floor, within half the sequence space.
				if int16(seq-floor) < 0 {
					changed = true
					continue
				}
				keep = append(keep, seq)
			}
		}
		if len(keep) > 0 {
			nack.Nacks = rtcp.NackPairsFromSequenceNumbers(keep)
			out = append(out, nack)
		}
	}
	if !changed {
		return size
	}
	if len(out) == 0 {
		// A compound packet cannot be empty: an empty receiver report
		// says nothing.
		out = append(out, &rtcp.ReceiverReport{})
	}
	raw, err := rtcp.Marshal(out)
	if err != nil || len(raw) > len(b) {
		return size
	}
	return copy(b, raw)
}
