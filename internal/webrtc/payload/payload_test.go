package payload

import (
	"encoding/binary"
	"errors"
	"testing"
)

func msg(op Op, body ...byte) []byte {
	b := make([]byte, 3, 3+len(body))
	b[0] = byte(op)
	binary.BigEndian.PutUint16(b[1:], uint16(3+len(body)))
	return append(b, body...)
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Message
		err  error
	}{
		{"move", msg(OpMove, 0x01, 0x00, 0x00, 0x20), Message{Op: OpMove, X: 256, Y: 32}, nil},
		{"scroll old", msg(OpScroll, 0xff, 0xff, 0x00, 0x78), Message{Op: OpScroll, DeltaX: -1, DeltaY: 120}, nil},
		{"scroll ctrl", msg(OpScroll, 0, 0, 0xff, 0x88, 1), Message{Op: OpScroll, DeltaY: -120, ControlKey: true}, nil},
		{"keydown", msg(OpKeyDown, 0, 0, 0xff, 0x0d), Message{Op: OpKeyDown, Key: 0xff0d}, nil},
		{"buttonup", msg(OpButtonUp, 0, 0, 0, 3), Message{Op: OpButtonUp, Key: 3}, nil},
		{"ping", msg(OpPing, 0, 0, 0, 1, 0, 0, 0, 2), Message{Op: OpPing, PingHigh: 1, PingLow: 2}, nil},
		{"touch", msg(OpTouchBegin, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 9, 200), Message{Op: OpTouchBegin, TouchID: 7, X: -1, Y: 9, Pressure: 200}, nil},
		// What the reference's client sends: the body's length.
		{"move, body length", []byte{1, 0, 4, 0x01, 0x00, 0x00, 0x20}, Message{Op: OpMove, X: 256, Y: 32}, nil},
		{"scroll, body length", []byte{2, 0, 5, 0, 0, 0xff, 0x88, 1}, Message{Op: OpScroll, DeltaY: -120, ControlKey: true}, nil},
		{"keydown, body length", []byte{3, 0, 4, 0, 0, 0xff, 0x0d}, Message{Op: OpKeyDown, Key: 0xff0d}, nil},
		{"ping, body length", []byte{7, 0, 8, 0, 0, 0, 1, 0, 0, 0, 2}, Message{Op: OpPing, PingHigh: 1, PingLow: 2}, nil},
		{"touch, body length", []byte{8, 0, 13, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 9, 200}, Message{Op: OpTouchBegin, TouchID: 7, X: 1, Y: 9, Pressure: 200}, nil},
		{"empty", nil, Message{}, ErrShort},
		{"short header", []byte{1, 0}, Message{}, ErrShort},
		{"length mismatch", []byte{1, 0, 9, 0, 0, 0, 0}, Message{}, ErrLength},
		{"body too short", msg(OpMove, 0, 1), Message{}, ErrLength},
		{"unknown op", msg(0x42, 0), Message{}, ErrUnknownOp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	b := CursorPosition(300, 2)
	if len(b) != 7 || b[0] != 1 || binary.BigEndian.Uint16(b[1:]) != 7 || binary.BigEndian.Uint16(b[3:]) != 300 {
		t.Fatalf("cursor position % x", b)
	}
	img, err := CursorImage(16, 16, 1, 2, []byte{0x89, 'P', 'N', 'G'})
	if err != nil || len(img) != 15 || binary.BigEndian.Uint16(img[1:]) != 15 || img[11] != 0x89 {
		t.Fatalf("cursor image % x %v", img, err)
	}
	if _, err := CursorImage(1, 1, 0, 0, make([]byte, 70000)); err == nil {
		t.Fatal("oversized cursor accepted")
	}
	ping := Message{Op: OpPing, PingHigh: 5, PingLow: 6}
	now := uint64(1_800_000_000_000)
	p := Pong(ping, now)
	be := binary.BigEndian
	if len(p) != 19 || p[0] != 3 || be.Uint32(p[3:]) != 5 || be.Uint32(p[7:]) != 6 {
		t.Fatalf("pong % x", p)
	}
	if got := uint64(be.Uint32(p[11:]))*pingDivisor + uint64(be.Uint32(p[15:])); got != now {
		t.Fatalf("pong time %d, want %d", got, now)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(msg(OpMove, 0, 1, 0, 2))
	f.Add(msg(OpScroll, 0, 1, 0, 2, 1))
	f.Add(msg(OpTouchEnd, make([]byte, 13)...))
	f.Add([]byte{7, 0, 11})
	f.Add([]byte{1, 0, 4, 0, 1, 0, 2}) // the body's length, as clients send it
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		// The length counts the whole message, or (as the reference's
		// clients write it) the body.
		if l := int(binary.BigEndian.Uint16(b[1:3])); (l != len(b) && l != len(b)-3) || Op(b[0]) != m.Op {
			t.Fatalf("accepted inconsistent message % x", b)
		}
	})
}
