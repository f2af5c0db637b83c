package plugins_test

import (
	"testing"

	"github.com/neko-webrtc/neko/internal/plugins"
	"github.com/neko-webrtc/neko/internal/plugins/chat"
	"github.com/neko-webrtc/neko/internal/plugins/filetransfer"
	"github.com/neko-webrtc/neko/internal/plugins/openinapp"
	pt "github.com/neko-webrtc/neko/internal/plugins/plugintest"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// TestInitOrder: at the reference's defaults, a new connection gets the
// plugin init events in the reference's order and shapes.
func TestInitOrder(t *testing.T) {
	e := pt.New(t, types.Settings{}, func(m *session.Manager) plugins.Set {
		ft, err := filetransfer.New(filetransfer.Options{Dir: "/home/neko/Downloads", Sessions: m})
		if err != nil {
			t.Fatal(err)
		}
		return plugins.Set{
			ft,
			chat.New(chat.Options{Enabled: true, Sessions: m}),
			openinapp.New(openinapp.Options{Sessions: m}),
		}
	})
	c := e.Connect(e.Session("admin", pt.Admin("admin")))
	for _, want := range []struct {
		ev      types.Event
		payload string
	}{
		{types.EventFileTransferUpdate, `{"enabled":false,"root_dir":"/home/neko/Downloads","user_download":false,"user_upload":false,"user_delete":false,"files":null}`},
		{types.EventChatInit, `{"enabled":true}`},
		{types.EventOpenInAppInit, `{"enabled":false}`},
	} {
		if got := c.Expect(want.ev); string(got) != want.payload {
			t.Fatalf("%s = %s, want %s", want.ev, got, want.payload)
		}
	}
}
