package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/neko-webrtc/neko/internal/desktop"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// wireDesktop connects the desktop's notifications to the sessions and
// the capture: a new screen mode restarts the video and is broadcast as
// screen/updated; a clipboard change goes to the host as
// clipboard/updated, if its profile may access the clipboard; a file
// chooser dialog opening or closing is broadcast as
// file_chooser_dialog/opened or closed. On a display we did not start,
// desktop.screen is selected first. desktop.unminimize,
// desktop.upload_drop and desktop.file_chooser_dialog are applied.
//
// The returned function tells a session that just connected about a file
// chooser dialog that is open (for websocket.Options.OnConnect).
func (a *App) wireDesktop() func(*session.Session) {
	if a.runtime == nil {
		if _, err := a.desktop.SetScreenSize(a.cfg.Desktop.Screen, ""); err != nil {
			a.log.Warn("cannot select desktop.screen on the external display", "screen", a.cfg.Desktop.Screen, "err", err)
		}
	}
	if err := a.desktop.SetUnminimize(a.cfg.Desktop.Unminimize); err != nil {
		a.log.Warn("desktop.unminimize", "err", err)
	}
	a.desktop.SetUploadDrop(a.cfg.Desktop.UploadDrop)
	if err := a.desktop.SetFileChooserDialog(a.cfg.Desktop.FileChooserDialog); err != nil {
		a.log.Warn("desktop.file_chooser_dialog", "err", err)
	}
	return wireDesktopEvents(a.desktop, a.sessions, a.video.Restart, a.log.With("component", "desktop"))
}

// screenSizes is the list for system/admin's screen_sizes_list
// (websocket.Options.Screens).
func (a *App) screenSizes() []types.ScreenSize {
	list, err := a.desktop.ScreenConfigurations()
	if err != nil {
		a.log.Warn("list screen configurations", "err", err)
		return nil
	}
	return list
}

// desktopEvents is what wireDesktopEvents needs of the desktop.
type desktopEvents interface {
	OnScreenChange(fn func(desktop.ScreenChange))
	OnClipboardChange(fn func())
	Clipboard(ctx context.Context) (types.ClipboardText, error)
	OnFileChooser(fn func(open bool))
}

var _ desktopEvents = (*desktop.Desktop)(nil)

// clipboardReadTimeout bounds reading the clipboard for a notification.
const clipboardReadTimeout = 10 * time.Second

// wireDesktopEvents registers the listeners; it returns the greeting for
// new connections (see wireDesktop).
func wireDesktopEvents(d desktopEvents, sessions *session.Manager, restartVideo func() error, log *slog.Logger) func(*session.Session) {
	d.OnScreenChange(func(c desktop.ScreenChange) {
		log.Info("screen changed", "screen", c.ScreenSize, "by", c.Actor)
		// The pipelines were negotiated for the old size.
		if err := restartVideo(); err != nil {
			log.Error("restart video capture after a screen change", "err", err)
		}
		sessions.Broadcast(types.EventScreenUpdated, types.ScreenSizeEvent{ID: c.Actor, ScreenSize: c.ScreenSize}, nil)
	})
	d.OnClipboardChange(func() {
		host := sessions.Host()
		if host == nil || !host.Profile().CanAccessClipboard {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), clipboardReadTimeout)
		defer cancel()
		c, err := d.Clipboard(ctx)
		if err != nil {
			log.Warn("read clipboard for the host", "err", err)
			return
		}
		host.Send(types.EventClipboardUpdated, types.ClipboardData{Text: c.Text})
	})

	// The dialog belongs to whoever hosts when it opens (the page opens it
	// on the host's click); "" when nobody does.
	var (
		mu     sync.Mutex
		open   bool
		holder string
	)
	d.OnFileChooser(func(opened bool) {
		mu.Lock()
		open, holder = opened, ""
		if host := sessions.Host(); opened && host != nil {
			holder = host.ID()
		}
		id := holder
		mu.Unlock()
		if opened {
			log.Info("file chooser dialog opened", "host", id)
			sessions.Broadcast(types.EventFileChooserDialogOpened, types.FileChooserDialogOpened{ID: id}, nil)
			return
		}
		log.Debug("file chooser dialog closed")
		sessions.Broadcast(types.EventFileChooserDialogClosed, struct{}{}, nil)
	})
	return func(s *session.Session) {
		mu.Lock()
		isOpen, id := open, holder
		mu.Unlock()
		if isOpen {
			s.Send(types.EventFileChooserDialogOpened, types.FileChooserDialogOpened{ID: id})
		}
	}
}
