package api

import "net/http"

// Desktop is what the room endpoints need from the X desktop (screen,
// clipboard, keyboard, screenshot, uploads).
type Desktop interface{}

func (a *API) registerDesktop(mux *http.ServeMux) {}
