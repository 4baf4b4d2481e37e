package worker

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/hookflow/hookflow/namespace"
	"github.com/hookflow/hookflow/telemetry"
)

// Handler serves the worker's metrics port: /metrics (hookflow's delivery
// metrics and the Temporal SDK's worker metrics), /healthz (the process is
// up) and /readyz (the workers poll, Temporal answers, and the namespace
// holds hookflow's search attributes; 503 naming what is wrong otherwise),
// for Kubernetes probes and Prometheus scrapes.
func (w *Workers) Handler(tel *telemetry.Telemetry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", tel.MetricsHandler())
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		writeJSON(rw, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := w.Ready(ctx); err != nil {
			writeJSON(rw, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "reason": err.Error()})
			return
		}
		checks := map[string]string{"temporal": "ok"}
		problems := namespace.NamespaceReadiness(w.client).Check(ctx)
		for k, v := range problems {
			checks[k] = v
		}
		if len(problems) > 0 {
			writeJSON(rw, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "checks": checks})
			return
		}
		writeJSON(rw, http.StatusOK, map[string]any{"status": "ready", "checks": checks})
	})
	return mux
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

// sdkclient.Client -> *NamespaceCheck
