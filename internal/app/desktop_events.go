package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/neko-webrtc/neko/internal/desktop"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// wireDesktop connects the desktop's notifications to the sessions and
// the capture: a new screen mode restarts the video and is broadcast as
// screen/updated; a clipboard change goes to the host as
// clipboard/updated, if its profile may access the clipboard. On a display
// we did not start, desktop.screen is selected first. desktop.unminimize,
// desktop.upload_drop and desktop.file_chooser_dialog are applied.
func (a *App) wireDesktop() {
	if a.runtime == nil {
		if _, err := a.desktop.SetScreenSize(a.cfg.Desktop.Screen, ""); err != nil {
			a.log.Warn("cannot select desktop.screen on the external display", "screen", a.cfg.Desktop.Screen, "err", err)
		}
	}
	if err := a.desktop.SetUnminimize(a.cfg.Desktop.Unminimize); err != nil {
		a.log.Warn("desktop.unminimize", "err", err)
	}
	a.desktop.SetUploadDrop(a.cfg.Desktop.UploadDrop)
	a.desktop.SetFileChooserDialog(a.cfg.Desktop.FileChooserDialog)
	wireDesktopEvents(a.desktop, a.sessions, a.video.Restart, a.log.With("component", "desktop"))
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
}

var _ desktopEvents = (*desktop.Desktop)(nil)

// clipboardReadTimeout bounds reading the clipboard for a notification.
const clipboardReadTimeout = 10 * time.Second

func wireDesktopEvents(d desktopEvents, sessions *session.Manager, restartVideo func() error, log *slog.Logger) {
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
}
