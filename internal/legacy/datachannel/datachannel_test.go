package datachannel

import (
	"bytes"
	"errors"
	"testing"

	"github.com/neko-webrtc/neko/internal/webrtc/payload"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want payload.Message
		err  error
	}{
		// Bytes as the v2 client writes them (DataView, little-endian).
		{"move", []byte{0x01, 0x07, 0x00, 0x41, 0x01, 0x7b, 0x00}, payload.Message{Op: payload.OpMove, X: 321, Y: 123}, nil},
		{"scroll", []byte{0x02, 0x07, 0x00, 0xfe, 0xff, 0x03, 0x00}, payload.Message{Op: payload.OpScroll, DeltaX: -2, DeltaY: 3}, nil},
		{"left button down", []byte{0x03, 0x0b, 0x00, 1, 0, 0, 0, 0, 0, 0, 0}, payload.Message{Op: payload.OpButtonDown, Key: 1}, nil},
		{"wheel button up", []byte{0x04, 0x0b, 0x00, 7, 0, 0, 0, 0, 0, 0, 0}, payload.Message{Op: payload.OpButtonUp, Key: 7}, nil},
		{"key a down", Key(OpKeyDown, 'a'), payload.Message{Op: payload.OpKeyDown, Key: 'a'}, nil},
		{"return up", Key(OpKeyUp, 0xff0d), payload.Message{Op: payload.OpKeyUp, Key: 0xff0d}, nil},
		{"key 8 is a keysym", Key(OpKeyDown, 8), payload.Message{Op: payload.OpKeyDown, Key: 8}, nil},
		// The v2 client writes the body's length.
		{"move, body length", []byte{0x01, 0x04, 0x00, 0x41, 0x01, 0x7b, 0x00}, payload.Message{Op: payload.OpMove, X: 321, Y: 123}, nil},
		{"key, body length", []byte{0x03, 0x08, 0x00, 'a', 0, 0, 0, 0, 0, 0, 0}, payload.Message{Op: payload.OpKeyDown, Key: 'a'}, nil},
		{"empty", nil, payload.Message{}, ErrShort},
		{"header only", []byte{0x01, 0x03}, payload.Message{}, ErrShort},
		{"big-endian (v3) length", []byte{0x01, 0x00, 0x07, 0, 1, 0, 1}, payload.Message{}, ErrLength},
		{"length too long", []byte{0x01, 0x08, 0x00, 0, 1, 0, 1}, payload.Message{}, ErrLength},
		{"move with key body", []byte{0x01, 0x0b, 0x00, 1, 0, 0, 0, 0, 0, 0, 0}, payload.Message{}, ErrLength},
		{"key with short body", []byte{0x03, 0x07, 0x00, 1, 0, 0, 0}, payload.Message{}, ErrLength},
		{"unknown op", []byte{0x09, 0x03, 0x00}, payload.Message{}, ErrUnknownOp},
		{"key click", Key(OpKeyClick, 'a'), payload.Message{}, ErrUnsupported},
		{"key zero", Key(OpKeyDown, 0), payload.Message{}, ErrKeyRange},
		{"key beyond 32 bits", Key(OpKeyDown, 1<<40), payload.Message{}, ErrKeyRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	if got := Move(321, 123); !bytes.Equal(got, []byte{0x01, 0x07, 0x00, 0x41, 0x01, 0x7b, 0x00}) {
		t.Fatalf("move = % x", got)
	}
	if got := Scroll(-2, 3); !bytes.Equal(got, []byte{0x02, 0x07, 0x00, 0xfe, 0xff, 0x03, 0x00}) {
		t.Fatalf("scroll = % x", got)
	}
}

// TestLayoutsDisjoint: no v3 message parses as v2 and the other way round,
// so a peer can accept both without knowing which client it serves.
func TestLayoutsDisjoint(t *testing.T) {
	v3 := [][]byte{
		{0x01, 0x00, 0x07, 0, 1, 0, 1},
		{0x02, 0x00, 0x08, 0, 1, 0, 1, 1},
		{0x03, 0x00, 0x07, 0, 0, 0, 0x61},
		{0x07, 0x00, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0},
		// As the reference's client frames them (the body's length).
		{0x01, 0x00, 0x04, 0, 1, 0, 1},
		{0x02, 0x00, 0x05, 0, 1, 0, 1, 1},
		{0x03, 0x00, 0x04, 0, 0, 0, 0x61},
		{0x07, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 0},
	}
	for _, b := range v3 {
		if _, err := payload.Decode(b); err != nil {
			t.Fatalf("v3 sample % x does not decode: %v", b, err)
		}
		if _, err := Decode(b); err == nil {
			t.Fatalf("v3 message % x parses as v2", b)
		}
	}
	v2 := [][]byte{Move(1, 2), Scroll(1, 1), Key(OpKeyDown, 'a'), Key(OpKeyUp, 1),
		{0x01, 0x04, 0x00, 0, 1, 0, 1}, {0x03, 0x08, 0x00, 'a', 0, 0, 0, 0, 0, 0, 0}}
	for _, b := range v2 {
		if _, err := payload.Decode(b); err == nil {
			t.Fatalf("v2 message % x parses as v3", b)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, seed := range [][]byte{Move(1, 2), Scroll(-1, 1), Key(OpKeyDown, 1), Key(OpKeyUp, 0xff0d), {}, {0x05, 0x0b, 0x00}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		if _, v3err := payload.Decode(b); v3err == nil {
			t.Fatalf("% x decodes in both layouts", b)
		}
		switch m.Op {
		case payload.OpMove, payload.OpScroll, payload.OpKeyDown, payload.OpKeyUp, payload.OpButtonDown, payload.OpButtonUp:
		default:
			t.Fatalf("unexpected op %v", m.Op)
		}
		if (m.Op == payload.OpButtonDown || m.Op == payload.OpButtonUp) && (m.Key == 0 || m.Key >= buttonLimit) {
			t.Fatalf("button %d out of range", m.Key)
		}
	})
}
