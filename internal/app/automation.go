package app

import (
	"time"

	"github.com/mainstay-erp/mainstay/internal/automation"
	"github.com/mainstay-erp/mainstay/internal/platform/events/safehttp"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// mountAutomation wires automation rules and inbound hooks. Inbound
// notifications carry no token (their signature authenticates them), so
// their route bypasses the /v1 authentication chain; the engine runs in
// Start.
func (a *App) mountAutomation(api *rest.API) {
	a.automation = &automation.Engine{
		DB: a.db, API: api, AllowLoopback: a.cfg.WebhooksAllowLoopback, Log: a.log, Lease: a.cfg.WebhookLease,
		Client: safehttp.New(safehttp.Options{AllowLoopback: a.cfg.WebhooksAllowLoopback, Timeout: a.cfg.WebhookTimeout,
			ConnectTimeout: min(a.cfg.WebhookTimeout, 5*time.Second)}),
	}
	automation.Mount(api, a.db, a.automation, &automation.Inbound{DB: a.db, Keys: a.keyring})
	a.mux.Handle("POST /v1/inbound/{id}", api)
}
