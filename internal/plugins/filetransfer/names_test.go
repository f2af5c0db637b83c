package filetransfer

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

func TestValidName(t *testing.T) {
	for _, name := range []string{"a.txt", ".hidden", "..x", "x..", "ü ñ.pdf", `quote"d`, "a b", strings.Repeat("a", 255), "…"} {
		if err := ValidName(name); err != nil {
			t.Errorf("ValidName(%q) = %v", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", "../a", "a/..", "/etc/passwd", "a/b", `a\b`, "a\x00", "a\nb", "a\x7f", "a\u0085", strings.Repeat("a", 256), "\xff", tempPrefix + "x"} {
		if ValidName(name) == nil {
			t.Errorf("ValidName(%q) accepted", name)
		}
	}
}

// FuzzValidName: whatever is accepted names exactly one entry directly
// inside the directory.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"a.txt", "..", "../x", "%2e%2e%2f", "/abs", `..\x`, "x\x00y", ".", "a/./b", "ü", "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidName(name) != nil {
			return
		}
		const dir = "/srv/transfer"
		joined := filepath.Join(dir, name)
		if filepath.Dir(joined) != dir || filepath.Base(joined) != name || !filepath.IsLocal(name) {
			t.Fatalf("accepted %q escapes or is not one entry: %q", name, joined)
		}
		if strings.ContainsFunc(name, unicode.IsControl) || strings.ContainsAny(name, "/\\\x00") {
			t.Fatalf("accepted %q with a separator or control character", name)
		}
	})
}
