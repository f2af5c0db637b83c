package integration

import (
	"bytes"
	"context"
	"image/jpeg"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

func getCast(t *testing.T, c *viewer.Client) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"api/room/screen/cast.jpg", nil)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// TestScreencast: GET /api/room/screen/cast.jpg is 400 while the
// screencast is off; on, it returns the current screen as JPEG.
func TestScreencast(t *testing.T) {
	t.Run("disabled", func(t *testing.T) {
		s := stack.Start(t, nil)
		c := login(t, s, "viewer", "neko")
		if code, body := getCast(t, c); code != http.StatusBadRequest {
			t.Fatalf("status %d %s, want 400", code, body)
		}
		if c.Init.ScreencastEnabled {
			t.Fatal("system/init says screencast is enabled")
		}
	})
	t.Run("enabled", func(t *testing.T) {
		s := stack.Start(t, map[string]any{"capture.screencast.enabled": true})
		paint, err := stack.NewPainter(s.Display, 20, 200, 40)
		if err != nil {
			t.Fatal(err)
		}
		defer paint.Close()
		c := login(t, s, "viewer", "neko")
		if !c.Init.ScreencastEnabled {
			t.Fatal("system/init says screencast is disabled")
		}
		code, body := getCast(t, c)
		if code != http.StatusOK {
			t.Fatalf("status %d %s", code, body)
		}
		img, err := jpeg.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("not a JPEG: %v", err)
		}
		if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 720 {
			t.Fatalf("size %v", b)
		}
		if r, g, b, _ := img.At(300, 200).RGBA(); r>>8 > 60 || g>>8 < 160 || b>>8 > 80 {
			t.Fatalf("pixel %d,%d,%d, want green", r>>8, g>>8, b>>8)
		}
		// A new colour shows in a later image (10 per second).
		if err := paint.Fill(30, 60, 210); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, body := getCast(t, c)
			if img, err := jpeg.Decode(bytes.NewReader(body)); err == nil {
				if r, g, b, _ := img.At(300, 200).RGBA(); r>>8 < 70 && g>>8 < 100 && b>>8 > 170 {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("the new colour never showed")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
