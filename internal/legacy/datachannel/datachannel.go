// Package datachannel decodes the binary data-channel input of v2 (legacy)
// clients. Every message is a header of op uint8 and length uint16 (the
// whole message, header included) followed by the body, all little-endian:
//
//	0x01 move      x uint16, y uint16
//	0x02 scroll    x int16, y int16
//	0x03 key down  key uint64 (below 8: a mouse button, else an X keysym)
//	0x04 key up    key uint64
//	0x05 key click (unused by clients; refused)
//
// Decode returns the v3 message with the same effect, so a peer applies v2
// input through the same path (and host check) as v3 input. The two
// layouts never both parse: their length fields have opposite byte orders
// and messages are far shorter than 256 bytes.
package datachannel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/neko-webrtc/neko/internal/webrtc/payload"
)

// Op is a v2 message type.
type Op uint8

const (
	OpMove     Op = 0x01
	OpScroll   Op = 0x02
	OpKeyDown  Op = 0x03
	OpKeyUp    Op = 0x04
	OpKeyClick Op = 0x05
)

const headerLen = 3

// Keys below buttonLimit are mouse buttons (1 left, 2 middle, 3 right, 4–7
// wheel), as the v2 client sends them.
const buttonLimit = 8

var (
	ErrShort       = errors.New("datachannel: message too short")
	ErrLength      = errors.New("datachannel: length field does not match message")
	ErrUnknownOp   = errors.New("datachannel: unknown op")
	ErrUnsupported = errors.New("datachannel: op not supported")
	ErrKeyRange    = errors.New("datachannel: key out of range")
)

// Decode parses one v2 message into its v3 equivalent. It never panics.
func Decode(b []byte) (payload.Message, error) {
	if len(b) < headerLen {
		return payload.Message{}, ErrShort
	}
	op := Op(b[0])
	// v2 clients put the body's length there, the protocol the whole
	// message's: both are taken (the byte order still tells the layouts
	// apart, TestLayoutsDisjoint).
	if length := int(binary.LittleEndian.Uint16(b[1:3])); length != len(b) && length != len(b)-headerLen {
		return payload.Message{}, ErrLength
	}
	body := b[headerLen:]
	want := 0
	switch op {
	case OpMove, OpScroll:
		want = 4
	case OpKeyDown, OpKeyUp:
		want = 8
	case OpKeyClick:
		return payload.Message{}, fmt.Errorf("%w: key click", ErrUnsupported)
	default:
		return payload.Message{}, fmt.Errorf("%w 0x%02x", ErrUnknownOp, uint8(op))
	}
	if len(body) != want {
		return payload.Message{}, fmt.Errorf("%w: op 0x%02x with %d body bytes", ErrLength, uint8(op), len(body))
	}
	le := binary.LittleEndian
	switch op {
	case OpMove:
		return payload.Message{Op: payload.OpMove, X: int32(le.Uint16(body[0:2])), Y: int32(le.Uint16(body[2:4]))}, nil
	case OpScroll:
		return payload.Message{Op: payload.OpScroll, DeltaX: int16(le.Uint16(body[0:2])), DeltaY: int16(le.Uint16(body[2:4]))}, nil
	}
	key := le.Uint64(body)
	if key > math.MaxUint32 {
		return payload.Message{}, fmt.Errorf("%w: %d", ErrKeyRange, key)
	}
	down := op == OpKeyDown
	switch {
	case key == 0:
		return payload.Message{}, fmt.Errorf("%w: 0", ErrKeyRange)
	case key < buttonLimit && down:
		return payload.Message{Op: payload.OpButtonDown, Key: uint32(key)}, nil
	case key < buttonLimit:
		return payload.Message{Op: payload.OpButtonUp, Key: uint32(key)}, nil
	case down:
		return payload.Message{Op: payload.OpKeyDown, Key: uint32(key)}, nil
	default:
		return payload.Message{Op: payload.OpKeyUp, Key: uint32(key)}, nil
	}
}

// Move encodes a v2 pointer move (for tests and scripted clients).
func Move(x, y uint16) []byte {
	b := header(OpMove, 4)
	binary.LittleEndian.PutUint16(b[3:], x)
	binary.LittleEndian.PutUint16(b[5:], y)
	return b
}

// Scroll encodes a v2 wheel event.
func Scroll(x, y int16) []byte {
	b := header(OpScroll, 4)
	binary.LittleEndian.PutUint16(b[3:], uint16(x))
	binary.LittleEndian.PutUint16(b[5:], uint16(y))
	return b
}

// Key encodes a v2 key (or, below 8, mouse button) event; op is OpKeyDown
// or OpKeyUp.
func Key(op Op, key uint64) []byte {
	b := header(op, 8)
	binary.LittleEndian.PutUint64(b[3:], key)
	return b
}

func header(op Op, body int) []byte {
	b := make([]byte, headerLen+body)
	b[0] = byte(op)
	binary.LittleEndian.PutUint16(b[1:3], uint16(len(b)))
	return b
}
