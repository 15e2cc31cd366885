package app

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/httpx"
	"github.com/mainstay-erp/mainstay/internal/platform/migrate"
)

func (a *App) routes() {
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	a.mux.HandleFunc("GET /readyz", a.handleReady)
	a.mux.Handle("GET /metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{}))
}

// handleReady answers 200 only when the database answers and its schema is
// the one this binary knows, so a load balancer sends no traffic to a node
// that would fail it.
func (a *App) handleReady(w http.ResponseWriter, r *http.Request) {
	if err := a.ready(r.Context()); err != nil {
		a.log.WarnContext(r.Context(), "not ready", "err", err)
		httpx.WriteError(w, r, apperr.New(apperr.Unavailable, "Not ready: %s.", reason(err)))
		return
	}
	v, _ := migrate.Latest(a.db.Engine())
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "database": a.db.Engine(), "schema_version": v})
}

// reason is the readiness failure without connection details.
func reason(err error) string {
	msg := err.Error()
	for i, c := range msg {
		if c == ':' {
			return msg[:i]
		}
	}
	return msg
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
