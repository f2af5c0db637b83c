package webrtc

import (
	"errors"
	"testing"

	"github.com/neko-webrtc/neko/pkg/types"
)

func TestSelectVideo(t *testing.T) {
	m := &Manager{byID: map[string]*source{}}
	for _, id := range []string{"hq", "mq", "lq", "legacy"} {
		src := &source{id: id}
		m.videos = append(m.videos, src)
		m.byID[id] = src
		if id != "legacy" {
			m.ladder = append(m.ladder, src)
		}
	}
	sel := func(id, typ string) *types.VideoSelector { return &types.VideoSelector{ID: id, Type: typ} }
	tests := []struct {
		sel  *types.VideoSelector
		want string // "" = error
	}{
		{nil, "hq"},
		{sel("", "exact"), "hq"},
		{sel("mq", "exact"), "mq"},
		{sel("mq", ""), "mq"},
		{sel("mq", "best"), "mq"},
		{sel("nope", "exact"), ""},
		{sel("lq", "nearest"), "lq"},
		{sel("nope", "nearest"), "hq"},
		{sel("hq", "lower"), "mq"},
		{sel("mq", "lower"), "lq"},
		{sel("lq", "lower"), ""}, // the v2 clients' quality is not on the ladder
		{sel("legacy", "exact"), "legacy"},
		{sel("legacy", "higher"), ""},
		{sel("lq", "higher"), "mq"},
		{sel("hq", "higher"), ""},
		{sel("nope", "higher"), ""},
		{sel("mq", "sideways"), ""},
	}
	for _, tt := range tests {
		got, err := m.selectVideo(tt.sel)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("%+v: got %s, want an error", tt.sel, got.id)
		case tt.want != "" && err != nil:
			t.Errorf("%+v: %v", tt.sel, err)
		case tt.want != "" && got.id != tt.want:
			t.Errorf("%+v: got %s, want %s", tt.sel, got.id, tt.want)
		}
		var se *selectorError
		if err != nil && !errors.As(err, &se) {
			t.Errorf("%+v: error %v is not a selector error", tt.sel, err)
		}
	}
	if _, err := (&Manager{}).selectVideo(nil); !errors.Is(err, ErrNoVideo) {
		t.Errorf("no qualities: %v", err)
	}
}
