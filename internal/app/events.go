package app

import (
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/events/eventsapi"
	"github.com/mainstay-erp/mainstay/internal/platform/events/safehttp"
	"github.com/mainstay-erp/mainstay/internal/platform/events/webhooks"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// mountEvents wires the change feed, the event stream and webhooks. The
// dispatcher runs in Start; its metrics join /metrics.
func (a *App) mountEvents(api *rest.API) {
	svc := &webhooks.Service{DB: a.db, Keys: a.keyring, AllowLoopback: a.cfg.WebhooksAllowLoopback}
	a.webhooks = webhooks.NewDispatcher(svc, webhooks.Options{
		Log:   a.log,
		Lease: a.cfg.WebhookLease,
		Client: safehttp.New(safehttp.Options{
			AllowLoopback: a.cfg.WebhooksAllowLoopback, Timeout: a.cfg.WebhookTimeout,
			ConnectTimeout: min(a.cfg.WebhookTimeout, 5*time.Second),
		}),
	})
	a.registry.MustRegister(a.webhooks.Collectors()...)
	a.streams = eventsapi.NewHub(a.db, a.cfg.EventsPoll)
	eventsapi.Mount(api, a.db, a.streams, eventsapi.Options{Heartbeat: a.cfg.SSEHeartbeat})
	eventsapi.MountWebhooks(api, svc, a.webhooks)
}
