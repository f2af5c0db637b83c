package api

import "net/http"

// Media is what the room endpoints need from capture (screencast,
// broadcast).
type Media interface{}

func (a *API) registerMedia(mux *http.ServeMux) {}
