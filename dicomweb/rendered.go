package dicomweb

import "net/http"

// rendered serves /rendered and /thumbnail.
func (s *Service) rendered(thumbnail bool) func(http.ResponseWriter, *http.Request, Caller) {
	return func(w http.ResponseWriter, r *http.Request, caller Caller) {
		httpError(w, http.StatusNotImplemented, "rendering is not available yet")
	}
}

func (s *Service) renderWADOURI(w http.ResponseWriter, r *http.Request, caller Caller, study, series, sop, contentType string) {
	httpError(w, http.StatusNotImplemented, "rendering is not available yet")
}
