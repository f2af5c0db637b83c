package api

import (
	"net/http"

	"github.com/neko-webrtc/neko/pkg/types"
)

func (a *API) keyboardMapGet(w http.ResponseWriter, r *http.Request) error {
	d, err := a.desktop()
	if err != nil {
		return err
	}
	m, err := d.KeyboardMap()
	if err != nil {
		return desktopError(err, "cannot read the keyboard map")
	}
	WriteJSON(w, http.StatusOK, m)
	return nil
}

// keyboardMapSet switches layout and variant (204): 400 for names that
// are not XKB names, 422 for ones the X server does not know.
func (a *API) keyboardMapSet(w http.ResponseWriter, r *http.Request) error {
	var m types.KeyboardMap
	if err := decode(r, &m); err != nil {
		return err
	}
	d, err := a.desktop()
	if err != nil {
		return err
	}
	if err := d.SetKeyboardMap(r.Context(), m); err != nil {
		return desktopError(err, "cannot set the keyboard map")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) keyboardModifiersGet(w http.ResponseWriter, r *http.Request) error {
	d, err := a.desktop()
	if err != nil {
		return err
	}
	m, err := d.KeyboardModifiers()
	if err != nil {
		return desktopError(err, "cannot read the keyboard modifiers")
	}
	WriteJSON(w, http.StatusOK, m)
	return nil
}

// keyboardModifiersSet locks or unlocks the modifiers given; omitted ones
// stay as they are (204).
func (a *API) keyboardModifiersSet(w http.ResponseWriter, r *http.Request) error {
	var m types.KeyboardModifiers
	if err := decode(r, &m); err != nil {
		return err
	}
	d, err := a.desktop()
	if err != nil {
		return err
	}
	if err := d.SetKeyboardModifiers(m); err != nil {
		return desktopError(err, "cannot set the keyboard modifiers")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
