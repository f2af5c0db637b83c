package api

import "net/http"

func (a *API) registerRoom(mux *http.ServeMux) {}
