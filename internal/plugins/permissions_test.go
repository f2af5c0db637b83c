package plugins

import (
	"testing"

	"github.com/neko-webrtc/neko/pkg/types"
)

func TestFlag(t *testing.T) {
	for _, tt := range []struct {
		name    string
		m       map[string]any
		v, ok   bool
		wantErr bool
	}{
		{"nil map", nil, false, false, false},
		{"absent", map[string]any{"other.x": false}, false, false, false},
		{"flat true", map[string]any{"chat.can_send": true}, true, true, false},
		{"flat false", map[string]any{"chat.can_send": false}, false, true, false},
		{"null is absent", map[string]any{"chat.can_send": nil}, false, false, false},
		{"string", map[string]any{"chat.can_send": "false"}, false, true, false},
		{"string true", map[string]any{"chat.can_send": " TRUE "}, true, true, false},
		{"number", map[string]any{"chat.can_send": float64(0)}, false, true, false},
		{"garbage string", map[string]any{"chat.can_send": "maybe"}, false, true, true},
		{"object", map[string]any{"chat.can_send": map[string]any{}}, false, true, true},
		{"nested", map[string]any{"chat": map[string]any{"can_send": false}}, false, true, false},
		{"flat wins", map[string]any{"chat.can_send": true, "chat": map[string]any{"can_send": false}}, true, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, ok, err := Flag(tt.m, "chat.can_send")
			if v != tt.v || ok != tt.ok || (err != nil) != tt.wantErr {
				t.Fatalf("Flag = %v %v %v, want %v %v err=%v", v, ok, err, tt.v, tt.ok, tt.wantErr)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	const key = "chat.can_send"
	off := map[string]any{key: false}
	on := map[string]any{key: true}
	bad := map[string]any{key: "maybe"}
	for _, tt := range []struct {
		name          string
		room, profile map[string]any
		admin, want   bool
	}{
		{"defaults allow", nil, nil, false, true},
		{"room off", off, nil, false, false},
		{"room off, admin exempt", off, nil, true, true},
		{"room off beats profile on", off, on, false, false},
		{"profile off", nil, off, false, false},
		{"profile off binds admins", nil, off, true, false},
		{"both on", on, on, false, true},
		{"unreadable room value denies", bad, nil, false, false},
		{"unreadable profile value denies", nil, bad, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Allowed(types.Settings{Plugins: tt.room}, types.MemberProfile{IsAdmin: tt.admin, Plugins: tt.profile}, key)
			if got != tt.want {
				t.Fatalf("Allowed = %v, want %v", got, tt.want)
			}
		})
	}
}
