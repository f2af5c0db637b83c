package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// videoPackets is how many video packets md has received.
func videoPackets(md *viewer.Media) int64 {
	n, _, _, _ := md.Stats()
	return n
}

// audioPackets is how many audio packets md has received.
func audioPackets(md *viewer.Media) int64 {
	_, _, n, _ := md.Stats()
	return n
}

// stalled waits for md's video and audio to stop: no packet of either
// over a whole window.
func stalled(t *testing.T, md *viewer.Media, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		v, a := videoPackets(md), audioPackets(md)
		time.Sleep(700 * time.Millisecond)
		if videoPackets(md) == v && audioPackets(md) == a {
			return
		}
	}
	t.Fatalf("media still flows after %v", within)
}

// flowing waits for more video packets to arrive at md.
func flowing(t *testing.T, md *viewer.Media, within time.Duration) {
	t.Helper()
	before := videoPackets(md)
	deadline := time.Now().Add(within)
	for videoPackets(md) <= before+10 {
		if time.Now().After(deadline) {
			t.Fatalf("no video within %v", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// paintedStack starts a stack whose screen is one colour, with a minute
// for the test; all of it ends at cleanup.
func paintedStack(t *testing.T, r, g, b uint8) (*stack.Stack, *stack.Painter, context.Context) {
	t.Helper()
	s := stack.Start(t, nil)
	paint, err := stack.NewPainter(s.Display, r, g, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { paint.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return s, paint, ctx
}

// noEvent fails if ch delivers anything now.
func noEvent(t *testing.T, ch <-chan json.RawMessage, what string) {
	t.Helper()
	select {
	case raw := <-ch:
		t.Fatalf("%s: %s", what, raw)
	default:
	}
}

// TestPrivateModePausesMedia: private mode keeps the screen from
// non-admins the way the reference does. Their peers stay connected (no
// signal/close) but carry no media, a non-admin asking for media in
// private mode still gets a connected peer without any, admins keep
// watching, and when private mode ends the picture comes back without a
// new negotiation.
func TestPrivateModePausesMedia(t *testing.T) {
	s, paint, ctx := paintedStack(t, 40, 180, 90)

	boss := login(t, s, "boss", "admin")
	carol := login(t, s, "carol", "neko")
	carolClose := carol.Subscribe(types.EventSignalClose)
	bossMD, err := boss.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer bossMD.Close()
	carolMD, err := carol.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer carolMD.Close()
	if _, err := carolMD.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 40, 180, 90, 40, 15*time.Second); err != nil {
		t.Fatalf("before private mode: %v", err)
	}

	if code, err := boss.Do(ctx, "POST", "api/room/settings", []byte(`{"private_mode": true}`), nil); err != nil || code/100 != 2 {
		t.Fatalf("private mode on: %d %v", code, err)
	}
	stalled(t, carolMD, 5*time.Second)
	flowing(t, bossMD, 5*time.Second)
	noEvent(t, carolClose, "a paused viewer was told signal/close")
	if carolMD.PC().ConnectionState().String() != "connected" {
		t.Fatalf("carol's peer is %s in private mode", carolMD.PC().ConnectionState())
	}

	// A newcomer's request is answered: a connected peer, no picture.
	dave := login(t, s, "dave", "neko")
	daveMD, err := dave.StartMedia(ctx)
	if err != nil {
		t.Fatalf("signal/request in private mode: %v", err)
	}
	defer daveMD.Close()
	select {
	case <-daveMD.Connected():
	case <-time.After(15 * time.Second):
		t.Fatal("a non-admin's peer does not connect in private mode")
	}
	time.Sleep(time.Second)
	if n := videoPackets(daveMD); n > 0 {
		t.Fatalf("a non-admin got %d video packets in private mode", n)
	}

	if err := paint.Fill(200, 60, 160); err != nil {
		t.Fatal(err)
	}
	if code, err := boss.Do(ctx, "POST", "api/room/settings", []byte(`{"private_mode": false}`), nil); err != nil || code/100 != 2 {
		t.Fatalf("private mode off: %d %v", code, err)
	}
	for name, md := range map[string]*viewer.Media{"carol": carolMD, "dave": daveMD} {
		if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 200, 60, 160, 40, 15*time.Second); err != nil {
			t.Fatalf("%s after private mode: %v", name, err)
		}
	}
	noEvent(t, carolClose, "signal/close around private mode")
	if carolMD.PC().ConnectionState().String() != "connected" {
		t.Fatalf("carol's peer is %s after private mode", carolMD.PC().ConnectionState())
	}

	// An admin who gives up being one is paused like any user.
	if code, err := boss.Do(ctx, "POST", "api/room/settings", []byte(`{"private_mode": true}`), nil); err != nil || code/100 != 2 {
		t.Fatalf("private mode on again: %d %v", code, err)
	}
	flowing(t, bossMD, 5*time.Second)
	if code, err := boss.Do(ctx, "POST", "api/profile", []byte(`{"is_admin": false}`), nil); err != nil || code/100 != 2 {
		t.Fatalf("boss steps down: %d %v", code, err)
	}
	stalled(t, bossMD, 5*time.Second)
}

// TestWatchingOutlivesSocket: a viewer's peer is its media, not its
// socket. When the socket closes the picture goes on and the session stays
// watching (as with the reference); a profile that may no longer watch ends
// the media with signal/close; a repeated signal/request replaces the peer
// without anyone being told the session stopped watching.
func TestWatchingOutlivesSocket(t *testing.T) {
	s, _, ctx := paintedStack(t, 230, 140, 20)

	boss := login(t, s, "boss", "admin")
	states := boss.Subscribe(types.EventSessionState)
	erin := login(t, s, "erin", "neko")
	md, err := erin.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 230, 140, 20, 40, 15*time.Second); err != nil {
		t.Fatal(err)
	}

	// Renegotiation from scratch: nobody hears "erin stopped watching".
	drain := func() {
		for {
			select {
			case <-states:
			default:
				return
			}
		}
	}
	drain()
	md2, err := erin.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer md2.Close()
	if _, err := md2.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 230, 140, 20, 40, 15*time.Second); err != nil {
		t.Fatalf("second request: %v", err)
	}
	for {
		select {
		case raw := <-states:
			st := decode[types.SessionStateEvent](t, raw)
			if st.ID == erin.SessionID && !st.IsWatching {
				t.Fatalf("a replaced peer was announced as not watching: %s", raw)
			}
			continue
		default:
		}
		break
	}

	// The socket goes; the picture and the watching state stay.
	erin.Close()
	time.Sleep(time.Second)
	flowing(t, md2, 5*time.Second)
	var list []types.SessionData
	if code, err := boss.Do(ctx, "GET", "api/sessions", nil, &list); err != nil || code != 200 {
		t.Fatalf("sessions: %d %v", code, err)
	}
	for _, sd := range list {
		if sd.ID == erin.SessionID && (sd.State.IsConnected || !sd.State.IsWatching) {
			t.Fatalf("after the socket closed: %+v", sd.State)
		}
	}

	// An admin takes away their own right to watch: the media ends a
	// second later, with signal/close.
	bossClose := boss.Subscribe(types.EventSignalClose)
	bmd, err := boss.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer bmd.Close()
	flowing(t, bmd, 15*time.Second)
	if code, err := boss.Do(ctx, "POST", "api/profile", []byte(`{"can_watch": false}`), nil); err != nil || code/100 != 2 {
		t.Fatalf("boss drops can_watch: %d %v", code, err)
	}
	if _, err := viewer.Wait(bossClose, 10*time.Second); err != nil {
		t.Fatal("no signal/close after can_watch was dropped")
	}
	stalled(t, bmd, 5*time.Second)
	// Erin's media, on the other hand, never stopped.
	flowing(t, md2, 5*time.Second)
}

// TestAdminDisconnectEndsMedia: an admin's disconnect closes the
// session's WebSocket and ends its media too, as the reference does
// (a socket that merely drops keeps its peer for the reconnect); the
// session stays and shows as neither connected nor watching.
func TestAdminDisconnectEndsMedia(t *testing.T) {
	s, _, ctx := paintedStack(t, 200, 60, 160)
	boss := login(t, s, "boss", "admin")
	carol := login(t, s, "carol", "neko")
	md, err := carol.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 200, 60, 160, 40, 15*time.Second); err != nil {
		t.Fatal(err)
	}

	if code, err := boss.Do(ctx, "POST", "api/sessions/"+carol.SessionID+"/disconnect", nil, nil); err != nil || code != 204 {
		t.Fatalf("disconnect: %d %v", code, err)
	}
	select {
	case <-carol.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("the disconnected session's socket stays open")
	}
	stalled(t, md, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var data types.SessionData
		if code, err := boss.Do(ctx, "GET", "api/sessions/"+carol.SessionID, nil, &data); err != nil || code != 200 {
			t.Fatalf("session after the disconnect: %d %v", code, err)
		}
		if !data.State.IsConnected && !data.State.IsWatching {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session state after the disconnect: %+v", data.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
