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
)

// TestScreenshotEndpoint: GET /api/room/screen/shot.jpg returns the live
// display as JPEG (admins only).
func TestScreenshotEndpoint(t *testing.T) {
	s := stack.Start(t, nil)
	paint, err := stack.NewPainter(s.Display, 10, 200, 90)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()
	admin := login(t, s, "root", "admin")
	user := login(t, s, "joe", "neko")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	get := func(token, q string) (int, []byte) {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"api/room/screen/shot.jpg"+q, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get(user.Token, ""); code != http.StatusForbidden {
		t.Fatalf("user: %d, want 403", code)
	}
	if code, _ := get(admin.Token, "?quality=500"); code != http.StatusBadRequest {
		t.Fatalf("quality=500: %d, want 400", code)
	}
	code, body := get(admin.Token, "?quality=70")
	if code != 200 {
		t.Fatalf("admin: %d %s", code, body)
	}
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("not a JPEG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 720 {
		t.Fatalf("size %v", b)
	}
	r, g, b, _ := img.At(100, 100).RGBA()
	if absDiff(uint8(r>>8), 10) > 30 || absDiff(uint8(g>>8), 200) > 30 || absDiff(uint8(b>>8), 90) > 30 {
		t.Fatalf("pixel (%d,%d,%d), want the painted (10,200,90)", r>>8, g>>8, b>>8)
	}
}
