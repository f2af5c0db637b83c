package xext

import (
	"errors"
	"sync"
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"

	"github.com/neko-webrtc/neko/test/xserver"
)

func TestMain(m *testing.M) { xserver.Main(m) }

// TestInitWhileOthersReceive: connections set up their extensions while
// another connection receives a stream of events (its reader looks each
// one up in xgb's tables). xgb's own Init writes those tables each time:
// under the race detector this test fails with it.
func TestInitWhileOthersReceive(t *testing.T) {
	display := xserver.Xvfb(t, "320x240")
	recv, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	if err := Init(recv, XFixes); err != nil {
		t.Fatal(err)
	}
	if _, err := xfixes.QueryVersion(recv, 5, 0).Reply(); err != nil {
		t.Fatal(err)
	}
	root := xproto.Setup(recv).DefaultScreen(recv).Root
	if err := xproto.ChangeWindowAttributesChecked(recv, root, xproto.CwEventMask,
		[]uint32{xproto.EventMaskPropertyChange}).Check(); err != nil {
		t.Fatal(err)
	}
	events := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := recv.WaitForEvent()
			if ev == nil && err == nil {
				return
			}
			events++
		}
	}()

	send, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = xproto.ChangePropertyChecked(send, xproto.PropModeReplace, root, xproto.AtomWmName,
				xproto.AtomString, 8, 1, []byte{byte(i)}).Check()
		}
	}()

	for i := 0; i < 30; i++ {
		c, err := xgb.NewConnDisplay(display)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{XFixes, MITSHM, XTest, RandR} {
			if err := Init(c, name); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if _, err := xfixes.QueryVersion(c, 4, 0).Reply(); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	close(stop)
	wg.Wait()
	recv.Close()
	<-done
	if events == 0 {
		t.Fatal("the receiving connection got no events: the test exercised nothing")
	}

	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := Init(c, "NO-SUCH-EXTENSION"); !errors.Is(err, ErrMissing) {
		t.Fatalf("missing extension: %v", err)
	}
}
