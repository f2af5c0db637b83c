package webrtc

import (
	"github.com/neko-webrtc/neko/internal/legacy/datachannel"
	"github.com/neko-webrtc/neko/internal/webrtc/payload"
)

// decode reads one binary data-channel message: the v3 layout
// (big-endian) or, failing that, the little-endian layout of v2 clients
// served by the legacy bridge, converted to its v3 equivalent. The two
// never both parse (their length fields have opposite byte orders), so a
// peer needs not know which client it serves; the input goes through the
// same host check either way.
func (p *peer) decode(b []byte) (payload.Message, error) {
	m, err := payload.Decode(b)
	if err == nil {
		return m, nil
	}
	if v2, v2err := datachannel.Decode(b); v2err == nil {
		return v2, nil
	}
	return m, err
}
