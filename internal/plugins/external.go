package plugins

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
)

// ErrExternalPlugins is returned when plugins.required asks for external
// plugins that this server cannot load.
var ErrExternalPlugins = errors.New("external plugins are not supported")

// maxScan bounds the walk of plugins.dir; it only has to find out whether
// anything is there.
const maxScan = 1000

// CheckDir applies plugins.enabled, plugins.required and plugins.dir.
//
// In the reference, plugins.enabled loads every file under plugins.dir as
// a Go plugin (.so built against the exact same server build), and
// plugins.required turns a file that fails to load, or an unreadable
// directory, into a fatal error. The built-in plugins are there either way.
//
// This server does not load Go plugins: they tie the plugin to one exact
// build and toolchain, and the reference itself calls them experimental.
// So with plugins.enabled, any file in plugins.dir is reported and ignored
// (a warning), and with plugins.required as well it is a start-up error,
// as a plugin the reference failed to load would be. An unreadable
// plugins.dir is a warning, or an error with plugins.required.
func CheckDir(enabled, required bool, dir string, log *slog.Logger) error {
	if !enabled {
		return nil
	}
	log = Logger(log)
	var files []string
	errStop := errors.New("stop")
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, path)
			if len(files) >= maxScan {
				return errStop
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		if required {
			return fmt.Errorf("plugins: read plugins.dir %q: %w", dir, err)
		}
		log.Warn("cannot read plugins.dir; only built-in plugins are available", "dir", dir, "err", err)
		return nil
	}
	if len(files) == 0 {
		log.Info("no external plugins in plugins.dir; built-in plugins only", "dir", dir)
		return nil
	}
	if required {
		return fmt.Errorf("plugins: %w: plugins.required is set and plugins.dir %q holds %d file(s) (first %s); remove them or unset plugins.required",
			ErrExternalPlugins, dir, len(files), files[0])
	}
	log.Warn("external Go plugins are not supported by this server; files in plugins.dir are ignored, built-in plugins only",
		"dir", dir, "files", len(files), "first", files[0])
	return nil
}
