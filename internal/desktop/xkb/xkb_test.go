package xkb

import (
	"bytes"
	"testing"

	"github.com/jezek/xgb"
)

// The request layouts of XKBproto.h, with the extension at major opcode 135.
func TestRequestLayout(t *testing.T) {
	c := &xgb.Conn{Extensions: map[string]byte{extName: 135}}

	buf := lockRequest(c, ModLock|Mod2, ModLock|ModShift) // Shift is not affected
	want := []byte{135, 5, 4, 0, 0x00, 0x01, 0x12, 0x02, 0, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(buf, want) {
		t.Errorf("LatchLockState request % x, want % x", buf, want)
	}
	if got := request(c, opGetState, 8); !bytes.Equal(got, []byte{135, 4, 2, 0, 0, 0, 0, 0}) {
		t.Errorf("GetState request header % x", got)
	}
}
