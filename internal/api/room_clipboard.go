package api

import (
	"net/http"

	"github.com/neko-webrtc/neko/internal/desktop"
	"github.com/neko-webrtc/neko/pkg/types"
)

// clipboardBodyLimit leaves room for JSON escaping around the largest
// clipboard contents accepted.
const clipboardBodyLimit = 2*desktop.MaxClipboardSize + 64<<10

func (a *API) clipboardGet(w http.ResponseWriter, r *http.Request) error {
	d, err := a.desktop()
	if err != nil {
		return err
	}
	c, err := d.Clipboard(r.Context())
	if err != nil {
		return desktopError(err, "cannot read the clipboard")
	}
	noStore(w, "application/json")
	WriteJSON(w, http.StatusOK, c)
	return nil
}

// clipboardSet puts text, or HTML when given, on the clipboard (204).
func (a *API) clipboardSet(w http.ResponseWriter, r *http.Request) error {
	var c types.ClipboardText
	if err := decodeLimit(w, r, &c, clipboardBodyLimit); err != nil {
		return err
	}
	d, err := a.desktop()
	if err != nil {
		return err
	}
	if err := d.SetClipboard(r.Context(), c); err != nil {
		return desktopError(err, "cannot set the clipboard")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// clipboardImage answers the clipboard's PNG image; 404 when it holds none.
func (a *API) clipboardImage(w http.ResponseWriter, r *http.Request) error {
	d, err := a.desktop()
	if err != nil {
		return err
	}
	img, err := d.ClipboardImage(r.Context())
	if err != nil {
		return desktopError(err, "cannot read the clipboard image")
	}
	noStore(w, "image/png")
	_, _ = w.Write(img)
	return nil
}
