package capture

import (
	"errors"
	"strings"
	"testing"
)

// TestMicrophoneRefusesUnknownCodec: a codec with no decoder is an error
// naming it, before any pipeline starts; so is a track without a clock
// rate.
func TestMicrophoneRefusesUnknownCodec(t *testing.T) {
	m := NewMicrophone("", "audio_input", nil)
	for _, tc := range []struct {
		mime  string
		clock uint32
		want  string
	}{
		{"audio/AMR", 8000, "unsupported codec: audio/AMR"},
		{"video/VP8", 90000, "unsupported codec: video/VP8"},
		{"audio/opus", 0, "without a clock rate"},
	} {
		s, err := m.Open(tc.mime, 111, tc.clock)
		if err == nil {
			s.Close()
			t.Fatalf("%s: opened", tc.mime)
		}
		if !strings.Contains(err.Error(), tc.want) || strings.HasPrefix(tc.want, "unsupported") != errors.Is(err, ErrUnsupportedCodec) {
			t.Fatalf("%s: %v, want %q", tc.mime, err, tc.want)
		}
	}
}
