package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/stack"
)

// v2Request sends one request to a v2 HTTP route (credentials in the
// query, as the v2 client sends them) and returns status and body.
func v2Request(t *testing.T, s *stack.Stack, method, path string, query url.Values, body io.Reader, contentType string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path+"?"+query.Encode(), body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// TestLegacyHTTPRoutes: the v2 HTTP routes of legacy mode on the real
// stack. /stats reports who is connected and the locks to admins only;
// /screenshot.jpg is a JPEG of the real X screen; /file lists nothing but
// uploads, downloads and deletes files with the v3 file transfer's
// permissions (users may download here, not delete). None of them leaves
// a session behind or announces one.
func TestLegacyHTTPRoutes(t *testing.T) {
	dir := t.TempDir()
	s := stack.Start(t, map[string]any{
		"filetransfer.enabled":       true,
		"filetransfer.dir":           dir,
		"filetransfer.user_download": true,
	})
	carol := login(t, s, "carol", "neko")
	admin := login(t, s, "boss", "admin")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sessionsNow := func() int {
		var list []types.SessionData
		if code, err := admin.Do(ctx, http.MethodGet, "api/sessions", nil, &list); err != nil || code != http.StatusOK {
			t.Fatalf("GET /api/sessions: %d %v", code, err)
		}
		return len(list)
	}
	before := sessionsNow()
	created := admin.Subscribe(types.EventSessionCreated)

	pwd := func(p string) url.Values { return url.Values{"pwd": {p}} }
	messageOf := func(body []byte) string {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &e)
		return e.Message
	}

	// /stats: admins only, and not with a wrong password.
	if code, body := v2Request(t, s, http.MethodGet, "/stats", pwd("wrong"), nil, ""); code != http.StatusForbidden || messageOf(body) == "" {
		t.Fatalf("/stats with a wrong password: %d %s", code, body)
	}
	if code, body := v2Request(t, s, http.MethodGet, "/stats", pwd("neko"), nil, ""); code != http.StatusUnauthorized || messageOf(body) != "bad authorization" {
		t.Fatalf("/stats as a user: %d %s", code, body)
	}
	if code, err := admin.Do(ctx, http.MethodPost, "api/room/settings", []byte(`{"locked_controls":true}`), nil); err != nil || code/100 != 2 {
		t.Fatalf("lock controls: %d %v", code, err)
	}
	code, body := v2Request(t, s, http.MethodGet, "/stats", pwd("admin"), nil, "")
	if code != http.StatusOK {
		t.Fatalf("/stats as an admin: %d %s", code, body)
	}
	var stats struct {
		Connections int `json:"connections"`
		Members     []struct {
			ID    string `json:"id"`
			Name  string `json:"displayname"`
			Admin bool   `json:"admin"`
		} `json:"members"`
		Locked          map[string]string `json:"locked"`
		ServerStartedAt time.Time         `json:"server_started_at"`
	}
	if err := json.Unmarshal(body, &stats); err != nil {
		t.Fatalf("/stats body %s: %v", body, err)
	}
	names := map[string]string{}
	for _, m := range stats.Members {
		names[m.ID] = m.Name
	}
	if stats.Connections != 2 || names[carol.SessionID] != "carol" || names[admin.SessionID] != "boss" {
		t.Fatalf("/stats members: %s", body)
	}
	if _, ok := stats.Locked["control"]; !ok || stats.ServerStartedAt.IsZero() {
		t.Fatalf("/stats locks and start time: %s", body)
	}

	// /screenshot.jpg: admins only; a JPEG of the whole screen.
	if code, body := v2Request(t, s, http.MethodGet, "/screenshot.jpg", pwd("neko"), nil, ""); code != http.StatusUnauthorized {
		t.Fatalf("/screenshot.jpg as a user: %d %s", code, body)
	}
	q := pwd("admin")
	q.Set("quality", "50")
	code, body = v2Request(t, s, http.MethodGet, "/screenshot.jpg", q, nil, "")
	if code != http.StatusOK {
		t.Fatalf("/screenshot.jpg: %d %s", code, body)
	}
	img, err := jpeg.DecodeConfig(bytes.NewReader(body))
	if err != nil || img.Width != 1280 || img.Height != 720 {
		t.Fatalf("/screenshot.jpg is not a 1280x720 JPEG: %+v %v", img, err)
	}

	// /file: upload as an admin (the v2 client's form field is "files").
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, err := mw.CreateFormFile("files", "notes.txt")
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("shared from a v2 client\n")
	_, _ = part.Write(content)
	_ = mw.Close()
	if code, body := v2Request(t, s, http.MethodPost, "/file", pwd("admin"), &form, mw.FormDataContentType()); code != http.StatusOK {
		t.Fatalf("POST /file: %d %s", code, body)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("uploaded file: %q %v", got, err)
	}
	// A user downloads it (filetransfer.user_download) but may not delete it.
	q = pwd("neko")
	q.Set("filename", "notes.txt")
	if code, body := v2Request(t, s, http.MethodGet, "/file", q, nil, ""); code != http.StatusOK || !bytes.Equal(body, content) {
		t.Fatalf("GET /file as a user: %d %q", code, body)
	}
	if code, body := v2Request(t, s, http.MethodDelete, "/file", q, nil, ""); code != http.StatusForbidden {
		t.Fatalf("DELETE /file as a user: %d %s", code, body)
	}
	q.Set("pwd", "admin")
	if code, body := v2Request(t, s, http.MethodDelete, "/file", q, nil, ""); code != http.StatusOK {
		t.Fatalf("DELETE /file as an admin: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); !os.IsNotExist(err) {
		t.Fatalf("deleted file still there: %v", err)
	}
	q.Set("pwd", "wrong")
	if code, body := v2Request(t, s, http.MethodGet, "/file", q, nil, ""); code != http.StatusForbidden {
		t.Fatalf("GET /file with a wrong password: %d %s", code, body)
	}

	// The requests ran as transient sessions: none is left, none was
	// announced.
	if after := sessionsNow(); after != before {
		t.Fatalf("%d sessions before the v2 requests, %d after", before, after)
	}
	select {
	case raw := <-created:
		t.Fatalf("a v2 request was announced: session/created %s", raw)
	default:
	}
}
