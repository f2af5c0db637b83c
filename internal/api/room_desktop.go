package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/neko-webrtc/neko/internal/desktop"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Desktop is what the room endpoints need from the X desktop (screen,
// clipboard, keyboard, screenshot, uploads). Errors are told apart with the
// desktop package's sentinels.
type Desktop interface {
	Screen() (types.ScreenSize, error)
	ScreenConfigurations() ([]types.ScreenSize, error)
	// SetScreenSize switches the mode; actor (the session id) is passed
	// on to the screen/updated broadcast.
	SetScreenSize(size types.ScreenSize, actor string) (types.ScreenSize, error)
	ScreenshotJPEG(quality int) ([]byte, error)

	Clipboard(ctx context.Context) (types.ClipboardText, error)
	ClipboardImage(ctx context.Context) ([]byte, error)
	SetClipboard(ctx context.Context, c types.ClipboardText) error

	KeyboardMap() (types.KeyboardMap, error)
	SetKeyboardMap(ctx context.Context, m types.KeyboardMap) error
	KeyboardModifiers() (types.KeyboardModifiers, error)
	SetKeyboardModifiers(m types.KeyboardModifiers) error

	UploadDropEnabled() bool
	// UploadDir makes a private directory for one upload's files.
	UploadDir() (string, error)
	DropFiles(ctx context.Context, x, y int, paths []string) error
	FileChooserDialogEnabled() bool
	// FileChooserOpen tells whether a file chooser dialog is open;
	// FileChooserUpload chooses files in it, FileChooserClose cancels it.
	FileChooserOpen() bool
	FileChooserUpload(ctx context.Context, paths []string) error
	FileChooserClose(ctx context.Context) error
}

var _ Desktop = (*desktop.Desktop)(nil)

// Routes and their permissions, as the running reference has them: the
// screen needs can_watch (admins always pass), changing or listing it and
// screenshots need admin; the clipboard needs can_access_clipboard and
// host; the keyboard needs can_host, and host to change it. Permission
// checks come before anything else, the body included.
func (a *API) registerDesktop(mux *http.ServeMux) {
	mux.Handle("GET /api/room/screen", a.watcher(a.screenGet))
	mux.Handle("POST /api/room/screen", a.admin(a.screenSet))
	mux.Handle("GET /api/room/screen/configurations", a.admin(a.screenConfigurations))
	mux.Handle("GET /api/room/screen/shot.jpg", a.admin(a.screenShot))

	mux.Handle("GET /api/room/clipboard", a.clipboardHost(a.clipboardGet))
	mux.Handle("POST /api/room/clipboard", a.clipboardHost(a.clipboardSet))
	mux.Handle("GET /api/room/clipboard/image.png", a.clipboardHost(a.clipboardImage))

	mux.Handle("GET /api/room/keyboard/map", a.canHost(a.keyboardMapGet))
	mux.Handle("POST /api/room/keyboard/map", a.host(a.keyboardMapSet))
	mux.Handle("GET /api/room/keyboard/modifiers", a.canHost(a.keyboardModifiersGet))
	mux.Handle("POST /api/room/keyboard/modifiers", a.host(a.keyboardModifiersSet))

	a.registerUpload(mux)
}

// watcher runs fn for sessions that may watch the screen, and admins.
func (a *API) watcher(fn handlerFunc) http.Handler {
	return a.auth(func(w http.ResponseWriter, r *http.Request) error {
		if p := SessionFrom(r.Context()).Profile(); !p.CanWatch && !p.IsAdmin {
			return httpError(http.StatusForbidden, "session cannot watch")
		}
		return fn(w, r)
	})
}

// clipboardHost runs fn for the host (see host) if its profile may access
// the clipboard.
func (a *API) clipboardHost(fn handlerFunc) http.Handler {
	return a.auth(func(w http.ResponseWriter, r *http.Request) error {
		s := SessionFrom(r.Context())
		if !s.Profile().CanAccessClipboard {
			return httpError(http.StatusForbidden, "session cannot access the clipboard")
		}
		if err := a.asHost(s); err != nil {
			return err
		}
		return fn(w, r)
	})
}

// desktop returns the desktop, or the error to answer without one.
func (a *API) desktop() (Desktop, error) {
	if a.opts.Desktop == nil {
		return nil, httpError(http.StatusServiceUnavailable, "no desktop attached")
	}
	return a.opts.Desktop, nil
}

// desktopError turns a desktop error into its status: client errors are
// told apart by sentinel, anything else is the server's failure.
func desktopError(err error, msg string) error {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, desktop.ErrScreenUnsupported), errors.Is(err, desktop.ErrUnknownKeyboardMap):
		code = http.StatusUnprocessableEntity
	case errors.Is(err, desktop.ErrInvalidKeyboardMap):
		code = http.StatusBadRequest
	case errors.Is(err, desktop.ErrClipboardTooLarge):
		code = http.StatusRequestEntityTooLarge
	case errors.Is(err, desktop.ErrClipboardNoImage):
		code = http.StatusNotFound
	case errors.Is(err, desktop.ErrClosed):
		code = http.StatusServiceUnavailable
	}
	if code < 500 {
		// The sentinel's text is what the client can act on.
		msg = err.Error()
	}
	return &HTTPError{Code: code, Msg: msg, Err: err}
}

// decodeLimit is decode with a larger body limit, for the clipboard.
func decodeLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &HTTPError{Code: http.StatusRequestEntityTooLarge, Msg: "request body too large", Err: err}
		}
		return &HTTPError{Code: http.StatusBadRequest, Msg: "invalid JSON body", Err: err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return httpError(http.StatusBadRequest, "invalid JSON body: trailing data")
	}
	return nil
}

// noStore marks a response as live desktop state.
func noStore(w http.ResponseWriter, contentType string) {
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.Header().Set("Content-Type", contentType)
}
