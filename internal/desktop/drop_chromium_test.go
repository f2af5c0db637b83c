package desktop

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDropFilesChromium drops files onto a page in the browser the product
// runs; the page's drop handler puts the names and sizes into its title,
// which the window title shows.
func TestDropFilesChromium(t *testing.T) {
	d, display := openTest(t)
	d.SetUploadDrop(true)
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is required: %v", err)
	}
	page := `data:text/html,<title>ready</title><body style="margin:0;width:100vw;height:100vh" ` +
		`ondragover="event.preventDefault()" ondrop="event.preventDefault();document.title='DROP:'+` +
		`[...event.dataTransfer.files].map(f=>f.name+':'+f.size).join(',')">drop here</body>`
	cmd := exec.Command(bin, "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-breakpad", "--user-data-dir="+t.TempDir(),
		"--window-position=0,0", "--window-size=1280,720", "--kiosk", page)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its own process group
		cmd.Wait()
	})
	title := func(prefix string) string {
		c := exec.Command("xdotool", "search", "--name", prefix, "getwindowname")
		c.Env = append(os.Environ(), "DISPLAY="+display)
		out, _ := c.Output()
		return strings.TrimSpace(string(out))
	}
	deadline := time.Now().Add(30 * time.Second)
	for title("^ready") == "" {
		if time.Now().After(deadline) {
			t.Fatal("chromium did not show the page within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	dir, err := d.UploadDir()
	must(t, err)
	paths := []string{filepath.Join(dir, "hello world.txt"), filepath.Join(dir, "ü #1.bin")}
	must(t, os.WriteFile(paths[0], []byte("hello"), 0o600))
	must(t, os.WriteFile(paths[1], []byte("12345678"), 0o600))
	must(t, d.DropFiles(context.Background(), 640, 360, paths))

	deadline = time.Now().Add(10 * time.Second)
	for {
		if got := title("^DROP:"); got != "" {
			if !strings.HasPrefix(got, "DROP:hello world.txt:5,ü #1.bin:8") {
				t.Fatalf("the page got %q", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the page saw no drop")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
