// Package payload encodes and decodes the binary data-channel protocol of
// neko v3 clients: a 3-byte header (op uint8, length uint16 counting the
// whole message) and a fixed body per op, all big-endian.
package payload

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Op is a message type.
type Op uint8

// Client → server ops.
const (
	OpMove        Op = 0x01
	OpScroll      Op = 0x02
	OpKeyDown     Op = 0x03
	OpKeyUp       Op = 0x04
	OpButtonDown  Op = 0x05
	OpButtonUp    Op = 0x06
	OpPing        Op = 0x07
	OpTouchBegin  Op = 0x08
	OpTouchUpdate Op = 0x09
	OpTouchEnd    Op = 0x0a
)

// Server → client ops.
const (
	OpCursorPosition Op = 0x01
	OpCursorImage    Op = 0x02
	OpPong           Op = 0x03
)

const headerLen = 3

var (
	ErrShort     = errors.New("payload: message too short")
	ErrLength    = errors.New("payload: length field does not match message")
	ErrUnknownOp = errors.New("payload: unknown op")
)

// Message is one decoded client message; which fields are set depends on Op.
type Message struct {
	Op         Op
	X, Y       int32  // move, touch
	DeltaX     int16  // scroll
	DeltaY     int16  // scroll
	ControlKey bool   // scroll (newer clients only)
	Key        uint32 // keysym or button code
	TouchID    uint32
	Pressure   uint8
	PingHigh   uint32
	PingLow    uint32
}

// bodyLen is the body size of each op; scroll has two accepted sizes.
func bodyLen(op Op, n int) (bool, error) {
	switch op {
	case OpMove:
		return n == 4, nil
	case OpScroll:
		return n == 4 || n == 5, nil
	case OpKeyDown, OpKeyUp, OpButtonDown, OpButtonUp:
		return n == 4, nil
	case OpPing:
		return n == 8, nil
	case OpTouchBegin, OpTouchUpdate, OpTouchEnd:
		return n == 13, nil
	}
	return false, fmt.Errorf("%w 0x%02x", ErrUnknownOp, uint8(op))
}

// Decode parses one client message. It never panics on any input.
func Decode(b []byte) (Message, error) {
	if len(b) < headerLen {
		return Message{}, ErrShort
	}
	op := Op(b[0])
	// The protocol's length counts the whole message, but the clients in
	// use (the reference's own) put the body's length there: both are
	// taken, the body's size is then checked per op.
	length := int(binary.BigEndian.Uint16(b[1:3]))
	if length != len(b) && length != len(b)-headerLen {
		return Message{}, ErrLength
	}
	body := b[headerLen:]
	ok, err := bodyLen(op, len(body))
	if err != nil {
		return Message{}, err
	}
	if !ok {
		return Message{}, fmt.Errorf("%w: op 0x%02x with %d body bytes", ErrLength, uint8(op), len(body))
	}
	m := Message{Op: op}
	be := binary.BigEndian
	switch op {
	case OpMove:
		m.X, m.Y = int32(be.Uint16(body[0:2])), int32(be.Uint16(body[2:4]))
	case OpScroll:
		m.DeltaX, m.DeltaY = int16(be.Uint16(body[0:2])), int16(be.Uint16(body[2:4]))
		if len(body) == 5 {
			m.ControlKey = body[4] != 0
		}
	case OpKeyDown, OpKeyUp, OpButtonDown, OpButtonUp:
		m.Key = be.Uint32(body)
	case OpPing:
		m.PingHigh, m.PingLow = be.Uint32(body[0:4]), be.Uint32(body[4:8])
	case OpTouchBegin, OpTouchUpdate, OpTouchEnd:
		m.TouchID = be.Uint32(body[0:4])
		m.X, m.Y = int32(be.Uint32(body[4:8])), int32(be.Uint32(body[8:12]))
		m.Pressure = body[12]
	}
	return m, nil
}

func header(op Op, n int) []byte {
	b := make([]byte, n)
	b[0] = byte(op)
	binary.BigEndian.PutUint16(b[1:3], uint16(n))
	return b
}

// CursorPosition encodes the host's pointer position for viewers.
func CursorPosition(x, y uint16) []byte {
	b := header(OpCursorPosition, 7)
	binary.BigEndian.PutUint16(b[3:], x)
	binary.BigEndian.PutUint16(b[5:], y)
	return b
}

// CursorImage encodes a cursor image (PNG) with its size and hotspot.
func CursorImage(w, h, xhot, yhot uint16, png []byte) ([]byte, error) {
	n := 11 + len(png)
	if n > 0xffff {
		return nil, fmt.Errorf("payload: cursor image of %d bytes is too large", len(png))
	}
	b := header(OpCursorImage, n)
	be := binary.BigEndian
	be.PutUint16(b[3:], w)
	be.PutUint16(b[5:], h)
	be.PutUint16(b[7:], xhot)
	be.PutUint16(b[9:], yhot)
	copy(b[11:], png)
	return b, nil
}

// pingDivisor reproduces the clients' split of a millisecond timestamp into
// two uint32 (they divide by 2^32-1, not 2^32); kept for compatibility.
const pingDivisor = 4294967295

// Pong answers a ping with the client's time echoed and ours added.
func Pong(ping Message, nowMillis uint64) []byte {
	b := header(OpPong, 19)
	be := binary.BigEndian
	be.PutUint32(b[3:], ping.PingHigh)
	be.PutUint32(b[7:], ping.PingLow)
	be.PutUint32(b[11:], uint32(nowMillis/pingDivisor))
	be.PutUint32(b[15:], uint32(nowMillis%pingDivisor))
	return b
}
