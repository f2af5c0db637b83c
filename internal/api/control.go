package api

import "net/http"

func (a *API) registerControl(mux *http.ServeMux) {}
