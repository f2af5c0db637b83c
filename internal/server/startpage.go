package server

import (
	"embed"
	"io/fs"
)

//go:embed startpage
var startFiles embed.FS

// startPage is what the embedded browser opens by default: a local page,
// so a fresh install shows something useful without reaching the internet.
func startPage() fs.FS {
	sub, _ := fs.Sub(startFiles, "startpage")
	return sub
}
