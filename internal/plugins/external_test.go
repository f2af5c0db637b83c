package plugins

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckDir(t *testing.T) {
	empty := t.TempDir()
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x.so"), []byte("ELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(empty, "nope")
	for _, tt := range []struct {
		name              string
		enabled, required bool
		dir               string
		wantErr           error
	}{
		{"disabled ignores everything", false, true, missing, nil},
		{"empty dir", true, true, empty, nil},
		{"plugins present: warning", true, false, full, nil},
		{"plugins present and required: error", true, true, full, ErrExternalPlugins},
		{"missing dir: warning", true, false, missing, nil},
		{"missing dir and required: error", true, true, missing, os.ErrNotExist},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDir(tt.enabled, tt.required, tt.dir, nil)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("CheckDir = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
