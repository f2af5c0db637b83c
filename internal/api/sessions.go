package api

import "net/http"

func (a *API) registerSessions(mux *http.ServeMux) {}
