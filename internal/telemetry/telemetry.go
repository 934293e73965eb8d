// Package telemetry serves what operators watch: /healthz and the
// Prometheus /metrics of a running server. It reads other packages through
// small interfaces and must not reach into protocols or patient data.
package telemetry

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/molar-pacs/molar/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Archive is what telemetry needs of the store.
type Archive interface {
	Ping(ctx context.Context) error
	Stats() store.Stats
}

// NewRegistry returns a registry with Go and process collectors and the
// archive's counters. Each server has its own: no global state.
func NewRegistry(a Archive) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter := func(name, help string, f func(store.Stats) int64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "molar", Subsystem: "store", Name: name, Help: help},
			func() float64 { return float64(f(a.Stats())) }))
	}
	counter("instances_stored_total", "Instances stored (new).", func(s store.Stats) int64 { return s.Stored })
	counter("instances_already_stored_total", "Instances received again with identical bytes.", func(s store.Stats) int64 { return s.AlreadyStored })
	counter("instances_replaced_total", "Instances replaced under the replace duplicate policy.", func(s store.Stats) int64 { return s.Replaced })
	counter("instances_rejected_total", "Instances refused (bad input, conflicts).", func(s store.Stats) int64 { return s.Rejected })
	counter("instances_deleted_total", "Instances deleted.", func(s store.Stats) int64 { return s.Deleted })
	counter("bytes_stored_total", "Bytes of instances stored.", func(s store.Stats) int64 { return s.BytesStored })
	counter("commit_groups_total", "Group commits (one fsync of the index each).", func(s store.Stats) int64 { return s.CommitGroups })
	counter("commit_requests_total", "Requests committed; divided by groups it is the fsync sharing factor.", func(s store.Stats) int64 { return s.CommitRequests })
	return reg
}

// MetricsHandler serves the registry in the Prometheus exposition format.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// HealthHandler answers 200 when the archive answers, 503 otherwise.
func HealthHandler(a Archive, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := a.Ping(ctx); err != nil {
			log.Warn("health check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]string{"status": "unavailable", "archive": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
	})
}
