package dicomweb

import "net/http"

// rendered serves /rendered and /thumbnail.
func (s *Service) rendered(thumbnail bool) func(http.ResponseWriter, *http.Request, Caller) {
	return func(w http.ResponseWriter, r *http.Request, caller Caller) {
		httpError(w, http.StatusNotImplemented, "rendering is not available yet")
	}
}

// wadoURI serves WADO-URI.
func (s *Service) wadoURI(w http.ResponseWriter, r *http.Request, caller Caller) {
	httpError(w, http.StatusNotImplemented, "WADO-URI is not available yet")
}
