package api

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/neko-webrtc/neko/internal/desktop"
)

type formFile struct{ name, content string }

// multipartBody builds a form with the given fields (in order) and files.
func multipartBody(t *testing.T, fields [][2]string, files []formFile) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		w, err := mw.CreateFormFile("files", f.name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f.content)
	}
	mw.Close()
	return buf.String(), mw.FormDataContentType()
}

func (e *desktopEnv) upload(path, who, body, contentType string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[who])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestUploadDrop(t *testing.T) {
	fake := &fakeDesktop{root: t.TempDir()}
	e := newDesktopEnv(t, fake)
	xy := [][2]string{{"x", "100"}, {"y", "200"}}
	body, ct := multipartBody(t, xy, []formFile{{"a.txt", "A"}})

	// Permission before anything else, then the feature switch.
	code, resp := e.upload("/api/room/upload/drop", "", body, ct)
	expect(t, "drop without credentials", code, resp, http.StatusUnauthorized)
	for _, who := range []string{"user", "viewer", "admin"} {
		code, resp = e.upload("/api/room/upload/drop", who, "garbage", "text/plain")
		expect(t, "drop as "+who, code, resp, http.StatusForbidden)
	}
	code, resp = e.upload("/api/room/upload/drop", "host", body, ct)
	expect(t, "drop while disabled", code, resp, http.StatusBadRequest)
	if !strings.Contains(string(resp), "upload drop is disabled") {
		t.Fatalf("disabled drop says %s", resp)
	}
	fake.uploads = true

	// Odd names are stored under safe ones; duplicates do not overwrite.
	body, ct = multipartBody(t, [][2]string{{"x", "640"}, {"y", "360"}}, []formFile{
		{"report.pdf", "pdf"}, {"../../etc/passwd", "p"}, {`C:\Users\me\photo.jpg`, "jpg"},
		{"..", "dots"}, {".bashrc", "rc"}, {"\xff\xfe.txt", "bad utf8"},
		{"report.pdf", "pdf 2"}, {strings.Repeat("ü", 300) + ".txt", "long"},
	})
	code, resp = e.upload("/api/room/upload/drop", "host", body, ct)
	expect(t, "drop", code, resp, http.StatusNoContent)
	if fake.dropAt != [2]int{640, 360} {
		t.Errorf("dropped at %v", fake.dropAt)
	}
	want := map[string]string{
		"report.pdf": "pdf", "passwd": "p", "photo.jpg": "jpg", "file": "dots", "_bashrc": "rc",
		"_.txt": "bad utf8", "report (2).pdf": "pdf 2",
	}
	for name, content := range want {
		if fake.dropped[name] != content {
			t.Errorf("file %q holds %q, want %q (dropped %v)", name, fake.dropped[name], content, keys(fake.dropped))
		}
	}
	long := 0
	for name, content := range fake.dropped {
		if content == "long" {
			long++
			if len(name) > maxFileName || !strings.HasSuffix(name, ".txt") {
				t.Errorf("long name stored as %q (%d bytes)", name, len(name))
			}
		}
	}
	if long != 1 || len(fake.dropped) != len(want)+1 {
		t.Errorf("dropped %v", keys(fake.dropped))
	}

	// Bad requests: 4xx, and nothing left behind.
	for _, c := range []struct {
		name   string
		fields [][2]string
		files  []formFile
		want   int
	}{
		{"no files", xy, nil, http.StatusBadRequest},
		{"no x", [][2]string{{"y", "1"}}, []formFile{{"a", "a"}}, http.StatusBadRequest},
		{"x not a number", [][2]string{{"x", "left"}, {"y", "1"}}, []formFile{{"a", "a"}}, http.StatusBadRequest},
		{"huge x", [][2]string{{"x", strings.Repeat("9", 100)}, {"y", "1"}}, []formFile{{"a", "a"}}, http.StatusBadRequest},
		{"negative x", [][2]string{{"x", "-5"}, {"y", "1"}}, []formFile{{"a", "a"}}, http.StatusBadRequest},
		{"beyond the screen", [][2]string{{"x", "5000"}, {"y", "1"}}, []formFile{{"a", "a"}}, http.StatusBadRequest},
		{"no target", [][2]string{{"x", "1000"}, {"y", "1"}}, []formFile{{"a", "a"}}, http.StatusUnprocessableEntity},
	} {
		body, ct := multipartBody(t, c.fields, c.files)
		code, resp := e.upload("/api/room/upload/drop", "host", body, ct)
		expect(t, "drop: "+c.name, code, resp, c.want)
	}
	code, resp = e.upload("/api/room/upload/drop", "host", `{"x":1}`, "application/json")
	expect(t, "drop with a JSON body", code, resp, http.StatusBadRequest)
	code, resp = e.upload("/api/room/upload/drop", "host", "--x\r\nbroken", "multipart/form-data; boundary=x")
	expect(t, "drop with a broken body", code, resp, http.StatusBadRequest)

	var many []formFile
	for i := range defaultUploadLimits.files + 1 {
		many = append(many, formFile{fmt.Sprintf("f%d", i), "x"})
	}
	body, ct = multipartBody(t, xy, many)
	code, resp = e.upload("/api/room/upload/drop", "host", body, ct)
	expect(t, "too many files", code, resp, http.StatusRequestEntityTooLarge)

	// Only the one successful drop's directory remains.
	entries, _ := os.ReadDir(fake.root)
	if len(entries) != 1 {
		t.Errorf("upload directories left: %d, want 1", len(entries))
	}
}

// TestUploadTooLarge runs the handler with a 1 MiB limit: streaming the
// real 512 MiB would only make the test slow.
func TestUploadTooLarge(t *testing.T) {
	fake := &fakeDesktop{root: t.TempDir(), uploads: true}
	e := newDesktopEnv(t, fake)
	a := New(Options{Sessions: e.sessions, Desktop: fake})
	small := uploadLimits{files: 4, bytes: 1 << 20}
	srv := httptest.NewServer(a.host(func(w http.ResponseWriter, r *http.Request) error {
		return a.uploadDrop(w, r, small)
	}))
	t.Cleanup(srv.Close)

	send := func(files []formFile) (int, []byte) {
		body, ct := multipartBody(t, [][2]string{{"x", "1"}, {"y", "1"}}, files)
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+e.tokens["host"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	half := strings.Repeat("z", 600<<10)
	code, resp := send([]formFile{{"a", half}})
	expect(t, "upload within the limit", code, resp, http.StatusNoContent)
	code, resp = send([]formFile{{"a", half}, {"b", half}}) // over in all
	expect(t, "upload over the limit in all", code, resp, http.StatusRequestEntityTooLarge)
	code, resp = send([]formFile{{"a", strings.Repeat("z", 3<<20)}}) // over the body limit
	expect(t, "upload over the body limit", code, resp, http.StatusRequestEntityTooLarge)
	code, resp = send([]formFile{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}})
	expect(t, "too many files", code, resp, http.StatusRequestEntityTooLarge)
	if entries, _ := os.ReadDir(fake.root); len(entries) != 1 {
		t.Errorf("%d upload directories left, want the one that was dropped", len(entries))
	}
}

func TestUploadDialog(t *testing.T) {
	fake := &fakeDesktop{root: t.TempDir()}
	e := newDesktopEnv(t, fake)
	body, ct := multipartBody(t, nil, []formFile{{"a.txt", "A"}})
	code, resp := e.upload("/api/room/upload/dialog", "", body, ct)
	expect(t, "dialog without credentials", code, resp, http.StatusUnauthorized)
	for _, who := range []string{"user", "viewer", "admin"} {
		code, resp = e.upload("/api/room/upload/dialog", who, body, ct)
		expect(t, "dialog as "+who, code, resp, http.StatusForbidden)
		code, resp = e.call("DELETE", "/api/room/upload/dialog", who, "")
		expect(t, "close dialog as "+who, code, resp, http.StatusForbidden)
	}
	code, resp = e.upload("/api/room/upload/dialog", "host", body, ct)
	expect(t, "dialog while disabled", code, resp, http.StatusBadRequest)
	if !strings.Contains(string(resp), "file chooser dialog is disabled") {
		t.Fatalf("disabled dialog says %s", resp)
	}
	code, resp = e.call("DELETE", "/api/room/upload/dialog", "host", "")
	expect(t, "close dialog while disabled", code, resp, http.StatusBadRequest)
	fake.dialog = true
	code, resp = e.upload("/api/room/upload/dialog", "host", body, ct)
	expect(t, "dialog without one open", code, resp, http.StatusUnprocessableEntity)
	code, resp = e.call("DELETE", "/api/room/upload/dialog", "host", "")
	expect(t, "close without a dialog", code, resp, http.StatusUnprocessableEntity)

	// Uploads: names sanitised as for drops, files kept.
	fake.chooser = true
	body, ct = multipartBody(t, [][2]string{{"x", "1"}}, []formFile{
		{"../report.pdf", "pdf"}, {"report.pdf", "pdf 2"}, {".env", "env"},
	})
	code, resp = e.upload("/api/room/upload/dialog", "host", body, ct)
	expect(t, "upload to the dialog", code, resp, http.StatusNoContent)
	want := map[string]string{"report.pdf": "pdf", "report (2).pdf": "pdf 2", "_env": "env"}
	if len(fake.chosen) != len(want) {
		t.Errorf("chosen %v", keys(fake.chosen))
	}
	for name, content := range want {
		if fake.chosen[name] != content {
			t.Errorf("file %q holds %q, want %q", name, fake.chosen[name], content)
		}
	}
	code, resp = e.upload("/api/room/upload/dialog", "host", body, ct)
	expect(t, "upload after the dialog closed", code, resp, http.StatusUnprocessableEntity)

	// Failures leave nothing behind.
	fake.chooser = true
	for _, c := range []struct {
		name  string
		body  func() (string, string)
		err   error
		want  int
		wants string
	}{
		{"no files", func() (string, string) { return multipartBody(t, nil, nil) }, nil, http.StatusBadRequest, "no files"},
		{"not multipart", func() (string, string) { return `{}`, "application/json" }, nil, http.StatusBadRequest, "multipart"},
		{"too many files", func() (string, string) {
			var many []formFile
			for i := range defaultUploadLimits.files + 1 {
				many = append(many, formFile{fmt.Sprintf("f%d", i), "x"})
			}
			return multipartBody(t, nil, many)
		}, nil, http.StatusRequestEntityTooLarge, "at most"},
		{"dialog closed meanwhile", func() (string, string) { return multipartBody(t, nil, []formFile{{"a", "a"}}) },
			desktop.ErrNoFileChooser, http.StatusUnprocessableEntity, "not open"},
		{"dialog refused", func() (string, string) { return multipartBody(t, nil, []formFile{{"a", "a"}}) },
			desktop.ErrFileChooserRefused, http.StatusInternalServerError, "cannot upload"},
	} {
		fake.chooserErr = c.err
		b, ct := c.body()
		code, resp := e.upload("/api/room/upload/dialog", "host", b, ct)
		expect(t, "upload: "+c.name, code, resp, c.want)
		if !strings.Contains(string(resp), c.wants) {
			t.Errorf("upload: %s: says %s", c.name, resp)
		}
	}
	fake.chooserErr = nil
	if entries, _ := os.ReadDir(fake.root); len(entries) != 1 {
		t.Errorf("%d upload directories left, want the one that was chosen", len(entries))
	}

	// Closing.
	code, resp = e.call("DELETE", "/api/room/upload/dialog", "host", "")
	expect(t, "close the dialog", code, resp, http.StatusNoContent)
	if fake.closes != 1 || fake.chooser {
		t.Errorf("closes %d, open %v", fake.closes, fake.chooser)
	}
	code, resp = e.call("DELETE", "/api/room/upload/dialog", "host", "")
	expect(t, "close it again", code, resp, http.StatusUnprocessableEntity)
}

func TestSanitizeFileName(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf": "report.pdf", "a/b/c.txt": "c.txt", `C:\x\y.png`: "y.png", "..": "file", ".": "file",
		"": "file", "   ": "file", ".bashrc": "_bashrc", "...x": "_x", "a\x00b\nc\x7f.txt": "a_b_c_.txt",
		"\xff.txt": "_.txt", "dir/": "file", " spaced name .txt ": "spaced name .txt",
	} {
		if got := sanitizeFileName(in); got != want {
			t.Errorf("sanitizeFileName(%q) = %q, want %q", in, got, want)
		}
	}
	long := sanitizeFileName(strings.Repeat("€", 100) + ".tar.gz")
	if len(long) > maxFileName || !strings.HasSuffix(long, ".gz") || !utf8.ValidString(long) {
		t.Errorf("long name became %q (%d bytes)", long, len(long))
	}
	used := map[string]bool{}
	for _, want := range []string{"a.txt", "a (2).txt", "a (3).txt"} {
		if got := uniqueName("a.txt", used); got != want {
			t.Errorf("uniqueName = %q, want %q", got, want)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
