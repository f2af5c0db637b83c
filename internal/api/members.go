package api

import "net/http"

func (a *API) registerMembers(mux *http.ServeMux) {}
