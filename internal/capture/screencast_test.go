package capture

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"testing"
	"time"
)

func TestScreencast(t *testing.T) {
	off, err := NewScreencast(ScreencastOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.Image(context.Background()); !errors.Is(err, ErrScreencastDisabled) {
		t.Fatalf("disabled: %v", err)
	}

	s, err := NewScreencast(ScreencastOptions{Enabled: true,
		Pipeline: "videotestsrc is-live=true pattern=red ! video/x-raw,width=64,height=48,framerate=10/1 ! jpegenc quality=80 ! appsink name=appsink sync=false"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.idleFor = 300 * time.Millisecond
	if s.Running() {
		t.Fatal("runs before the first request")
	}
	img, err := s.Image(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pic, err := jpeg.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("not a JPEG: %v", err)
	}
	if r, g, b, _ := pic.At(10, 10).RGBA(); r>>8 < 200 || g>>8 > 60 || b>>8 > 60 {
		t.Fatalf("pixel %d,%d,%d, want red", r>>8, g>>8, b>>8)
	}
	if _, err := s.Image(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Stops when nobody asks.
	waitUntil(t, "idle stop", func() bool { return !s.Running() })
	if _, err := s.Image(context.Background()); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestScreencastOptions(t *testing.T) {
	for name, o := range map[string]ScreencastOptions{
		"rate":     {Enabled: true, Rate: "fast", Quality: "60"},
		"zero":     {Enabled: true, Rate: "0/1", Quality: "60"},
		"quality":  {Enabled: true, Rate: "10/1", Quality: "101"},
		"pipeline": {Enabled: true, Pipeline: "videotestsrc ! fakesink"},
	} {
		if _, err := NewScreencast(o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := NewScreencast(ScreencastOptions{Enabled: true, Display: ":1", Rate: "10/1", Quality: "60"}); err != nil {
		t.Fatal(err)
	}
}
