package webrtc

import (
	"sync"

	"github.com/pion/interceptor"
)

// tolerantRTCP wraps an interceptor whose RTCP processing may fail on one
// packet (pion's estimator rejects feedback it cannot match: "invalid
// feedback"). Unwrapped, that error replaces the whole compound packet, so
// the keyframe and retransmission requests in it would be lost too: here
// the interceptor sees each packet, and its error is only logged.
type tolerantRTCP struct {
	interceptor.Interceptor
	onErr func(error)
}

type tolerantRTCPFactory struct {
	f     interceptor.Factory
	onErr func(error)
}

func (t tolerantRTCPFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	i, err := t.f.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	return &tolerantRTCP{Interceptor: i, onErr: t.onErr}, nil
}

func (t *tolerantRTCP) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	// The wrapped interceptor reads from a one-packet source that hands
	// it what we just read.
	var (
		mu      sync.Mutex
		pending []byte
		attrs   interceptor.Attributes
	)
	inner := t.Interceptor.BindRTCPReader(interceptor.RTCPReaderFunc(
		func(b []byte, _ interceptor.Attributes) (int, interceptor.Attributes, error) {
			return copy(b, pending), attrs, nil
		}))
	scratch := make([]byte, 1500)
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attr, err := reader.Read(b, a)
		if err != nil {
			return n, attr, err
		}
		mu.Lock()
		pending, attrs = b[:n], attr
		if len(scratch) < n {
			scratch = make([]byte, n)
		}
		_, _, ierr := inner.Read(scratch, attr)
		pending, attrs = nil, nil
		mu.Unlock()
		if ierr != nil && t.onErr != nil {
			t.onErr(ierr)
		}
		return n, attr, nil
	})
}
