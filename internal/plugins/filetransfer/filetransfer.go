// Package filetransfer is the file transfer plugin: one directory on the
// server whose files members list, download, upload and delete.
//
// Wire (reference server/internal/plugins/filetransfer):
//   - filetransfer/update {enabled, root_dir, user_download, user_upload,
//     user_delete, files} goes to each session on connect and to everyone
//     when the list changes; files is null while disabled, else
//     [{name, type: "file"|"dir", size}] (size omitted for directories).
//   - a client may send filetransfer/update (no payload) to ask for a
//     refresh.
//   - GET /api/filetransfer?filename=NAME downloads (Range supported),
//     POST /api/filetransfer uploads (multipart, field "files", repeatable),
//     DELETE /api/filetransfer?filename=NAME deletes; upload and delete
//     answer 200 with an empty body, as the reference.
//
// Permissions: config enabled, then filetransfer.enabled in the room
// settings (admins exempt) and in the member's profile; then
// user_download/user_upload/user_delete for non-admins.
//
// Every file access goes through os.Root, so no name, ".." or symbolic
// link can reach outside the directory.
package filetransfer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/neko-webrtc/neko/internal/plugins"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/internal/websocket"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Name is the plugin's settings prefix.
const Name = "filetransfer"

const (
	// DefaultRefresh is filetransfer.refresh_interval's default.
	DefaultRefresh = 30 * time.Second
	// DefaultMaxUpload caps one upload request.
	DefaultMaxUpload = 1 << 30
	// maxEntries bounds the list sent to clients.
	maxEntries = 10000
)

// Options configure the plugin.
type Options struct {
	Enabled         bool
	Dir             string
	RefreshInterval time.Duration
	// UserDownload, UserUpload and UserDelete let non-admins do so.
	UserDownload, UserUpload, UserDelete bool
	// MaxUpload caps the files of one upload request, in bytes
	// (0: DefaultMaxUpload).
	MaxUpload int64
	Sessions  *session.Manager
	Logger    *slog.Logger
}

// FileTransfer is the plugin.
type FileTransfer struct {
	opts Options
	log  *slog.Logger
	root *os.Root // nil while disabled

	mu     sync.Mutex
	files  []types.FileTransferItem // nil until listed
	listed time.Time
}

var (
	_ plugins.Plugin = (*FileTransfer)(nil)
	_ plugins.Runner = (*FileTransfer)(nil)
)

// New builds the plugin; when enabled, it creates the directory if needed
// and lists it.
func New(opts Options) (*FileTransfer, error) {
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = DefaultRefresh
	}
	if opts.MaxUpload <= 0 {
		opts.MaxUpload = DefaultMaxUpload
	}
	if opts.Dir != "" {
		opts.Dir = filepath.Clean(opts.Dir)
	}
	f := &FileTransfer{opts: opts, log: plugins.Logger(opts.Logger)}
	if !opts.Enabled {
		return f, nil
	}
	if opts.Dir == "" {
		return nil, errors.New("filetransfer: filetransfer.dir is empty")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("filetransfer: create %s: %w", opts.Dir, err)
	}
	root, err := os.OpenRoot(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("filetransfer: open %s: %w", opts.Dir, err)
	}
	f.root = root
	if _, err := f.refresh(); err != nil {
		_ = root.Close()
		return nil, err
	}
	// A room that turns file transfer on or off must show or hide the list.
	opts.Sessions.OnSettingsChanged(func(prev, next types.Settings) {
		key := types.PluginFileTransferEnabled
		a, aok, _ := plugins.Flag(prev.Plugins, key)
		b, bok, _ := plugins.Flag(next.Plugins, key)
		if a != b || aok != bok {
			f.broadcast()
		}
	})
	return f, nil
}

// Close releases the directory.
func (f *FileTransfer) Close() error {
	if f.root == nil {
		return nil
	}
	return f.root.Close()
}

func (f *FileTransfer) Name() string { return Name }

func (f *FileTransfer) Handlers() map[types.Event]websocket.HandlerFunc {
	return map[types.Event]websocket.HandlerFunc{
		types.EventFileTransferUpdate: func(s *session.Session, _ json.RawMessage) error {
			// Clients may ask at will; the directory is read at most
			// once a second for them.
			f.mu.Lock()
			fresh := time.Since(f.listed) < time.Second
			f.mu.Unlock()
			if fresh {
				f.sendTo(s)
				return nil
			}
			if changed, err := f.refresh(); err == nil && changed {
				f.broadcast()
				return nil
			} else if err != nil {
				f.log.Warn("list file transfer directory", "err", err)
			}
			f.sendTo(s)
			return nil
		},
	}
}

func (f *FileTransfer) OnConnect(s *session.Session) { f.sendTo(s) }

// Run polls the directory every refresh interval and tells everyone when
// the list changed.
func (f *FileTransfer) Run(ctx context.Context) {
	if f.root == nil {
		return
	}
	t := time.NewTicker(f.opts.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.refreshAndBroadcast()
		}
	}
}

func (f *FileTransfer) refreshAndBroadcast() {
	changed, err := f.refresh()
	if err != nil {
		f.log.Warn("list file transfer directory", "err", err)
		return
	}
	if changed {
		f.broadcast()
	}
}

// allowed reports whether s may use file transfer at all (and so see the
// list).
func (f *FileTransfer) allowed(s *session.Session) bool {
	return f.opts.Enabled && plugins.Allowed(f.opts.Sessions.Settings(), s.Profile(), types.PluginFileTransferEnabled)
}

// update is the payload; the reference sends the list to everyone, we
// withhold file names from sessions that may not use file transfer.
func (f *FileTransfer) update(withFiles bool) types.FileTransferUpdate {
	u := types.FileTransferUpdate{
		Enabled:      f.opts.Enabled,
		RootDir:      f.opts.Dir,
		UserDownload: f.opts.UserDownload,
		UserUpload:   f.opts.UserUpload,
		UserDelete:   f.opts.UserDelete,
	}
	if withFiles && f.root != nil {
		f.mu.Lock()
		u.Files = f.files
		f.mu.Unlock()
	}
	return u
}

func (f *FileTransfer) sendTo(s *session.Session) {
	s.Send(types.EventFileTransferUpdate, f.update(f.allowed(s)))
}

// broadcast sends the update to everyone, marshalled once per variant.
func (f *FileTransfer) broadcast() {
	full, err := session.Marshal(types.EventFileTransferUpdate, f.update(true))
	if err != nil {
		return
	}
	bare, err := session.Marshal(types.EventFileTransferUpdate, f.update(false))
	if err != nil {
		return
	}
	for _, s := range f.opts.Sessions.List() {
		if f.allowed(s) {
			s.SendRaw(full)
		} else {
			s.SendRaw(bare)
		}
	}
}

// refresh lists the directory and reports whether the list changed.
func (f *FileTransfer) refresh() (bool, error) {
	if f.root == nil {
		return false, nil
	}
	files, err := f.list()
	if err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := f.files == nil || !slices.Equal(files, f.files)
	f.files, f.listed = files, time.Now()
	return changed, nil
}

// list reads the directory (not recursive). Entries a client could not
// name (uploads in progress, odd names), symbolic links that do not stay
// inside, and anything but files and directories are left out.
func (f *FileTransfer) list() ([]types.FileTransferItem, error) {
	dir, err := f.root.Open(".")
	if err != nil {
		return nil, fmt.Errorf("filetransfer: %w", err)
	}
	defer dir.Close()
	entries, err := dir.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("filetransfer: %w", err)
	}
	files := make([]types.FileTransferItem, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if ValidName(name) != nil {
			continue
		}
		var info fs.FileInfo
		if e.Type()&fs.ModeSymlink != 0 {
			info, err = f.root.Stat(name) // refuses links leading out
		} else {
			info, err = e.Info()
		}
		if err != nil {
			continue
		}
		switch {
		case info.IsDir():
			files = append(files, types.FileTransferItem{Name: name, Type: types.FileTransferItemDir})
		case info.Mode().IsRegular():
			files = append(files, types.FileTransferItem{Name: name, Type: types.FileTransferItemFile, Size: info.Size()})
		}
	}
	slices.SortFunc(files, func(a, b types.FileTransferItem) int { return cmp.Compare(a.Name, b.Name) })
	if len(files) > maxEntries {
		files = files[:maxEntries]
	}
	return files, nil
}
