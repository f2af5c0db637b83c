package webrtc

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pion/interceptor"
)

// failingRTCP is an interceptor whose RTCP reader reads and then fails,
// as pion's estimator does on feedback it cannot match.
type failingRTCP struct {
	interceptor.NoOp
	seen [][]byte
}

func (f *failingRTCP) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, _, err := r.Read(b, a)
		if err != nil {
			return 0, nil, err
		}
		f.seen = append(f.seen, append([]byte(nil), b[:n]...))
		return 0, nil, errors.New("invalid feedback")
	})
}

type fixedFactory struct{ i interceptor.Interceptor }

func (f fixedFactory) NewInterceptor(string) (interceptor.Interceptor, error) { return f.i, nil }

func TestTolerantRTCP(t *testing.T) {
	inner := &failingRTCP{}
	var errs []error
	i, err := tolerantRTCPFactory{f: fixedFactory{inner}, onErr: func(err error) { errs = append(errs, err) }}.NewInterceptor("pc")
	if err != nil {
		t.Fatal(err)
	}
	packets := [][]byte{{0x81, 0xc9, 0, 1, 2, 3, 4, 5}, {0x80, 0xc8, 0, 0}}
	next := 0
	r := i.BindRTCPReader(interceptor.RTCPReaderFunc(func(b []byte, _ interceptor.Attributes) (int, interceptor.Attributes, error) {
		n := copy(b, packets[next])
		next++
		return n, nil, nil
	}))
	for k, want := range packets {
		b := make([]byte, 1500)
		n, _, err := r.Read(b, nil)
		if err != nil || !bytes.Equal(b[:n], want) {
			t.Fatalf("read %d: % x, %v; want % x and no error", k, b[:n], err, want)
		}
		if !bytes.Equal(inner.seen[k], want) {
			t.Fatalf("the wrapped interceptor saw % x, want % x", inner.seen[k], want)
		}
	}
	if len(errs) != 2 {
		t.Fatalf("%d errors reported, want 2", len(errs))
	}
}
