// Package webhooks delivers the event feed to the URLs API clients
// subscribe, signed per the Standard Webhooks specification, at least
// once, in order per resource, retried for about three days, with every
// attempt kept for inspection and replay.
//
// The pipeline: the sequencer numbers committed events; fan-out copies
// each new event into a delivery row for every endpoint that may see it
// (its event-type filter, and the scopes and companies its owning client
// still holds); workers on any node claim due deliveries with a lease,
// POST them through the SSRF-safe client and record the attempt. A node
// that dies mid-delivery leaves a lease that expires, and another node
// (or the same one, restarted) sends again under the same webhook-id.
package webhooks

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/events"
)

// Endpoint statuses. An endpoint is failing once a delivery has kept
// failing for a day, and active again after its next success; disabled
// when it answered 410 Gone or its owner turned it off. Failures never
// delete an endpoint.
const (
	StatusActive   = "active"
	StatusFailing  = "failing"
	StatusDisabled = "disabled"
)

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// Event types of the webhook endpoints themselves. They carry no company,
// so only principals that work in every company receive them.
const (
	EventCreated   = "mainstay.webhooks.webhook_endpoint.created"
	EventUpdated   = "mainstay.webhooks.webhook_endpoint.updated"
	EventDeleted   = "mainstay.webhooks.webhook_endpoint.deleted"
	EventFailing   = "mainstay.webhooks.webhook_endpoint.failing"
	EventRecovered = "mainstay.webhooks.webhook_endpoint.recovered"
	EventDisabled  = "mainstay.webhooks.webhook_endpoint.disabled"
	// EventPing is what POST …/test sends. It is not in the feed.
	EventPing = "mainstay.webhooks.webhook_endpoint.pinged"
)

func init() {
	const scope = "webhooks:read"
	events.Declare(
		events.Type{Name: EventCreated, Scope: scope, Data: events.Of[Endpoint](), Description: "A webhook endpoint was created."},
		events.Type{Name: EventUpdated, Scope: scope, Data: events.Of[Endpoint](), Description: "A webhook endpoint was changed (URL, filters, enabled) or its secret rotated."},
		events.Type{Name: EventDeleted, Scope: scope, Data: events.Of[events.Deleted](), Description: "A webhook endpoint was deleted."},
		events.Type{Name: EventFailing, Scope: scope, Data: events.Of[Endpoint](),
			Description: "An endpoint's deliveries have kept failing for a day; they are still retried, and nothing is deleted."},
		events.Type{Name: EventRecovered, Scope: scope, Data: events.Of[Endpoint](), Description: "A failing endpoint accepted a delivery again."},
		events.Type{Name: EventDisabled, Scope: scope, Data: events.Of[Endpoint](),
			Description: "An endpoint was disabled because it answered 410 Gone. Its pending deliveries wait until it is enabled again."},
	)
}

// Schedule is the wait after each failed attempt: exponential (×4 from
// ten seconds), capped at 20 hours, 11 attempts over about 3.1 days.
// Each wait is jittered by ±20% so that a receiver coming back is not
// hit by every delivery at once.
var Schedule = func() []time.Duration {
	var out []time.Duration
	d := 10 * time.Second
	for range 10 {
		out = append(out, min(d, 20*time.Hour))
		d *= 4
	}
	return out
}()

// FailingAfter is how long a delivery keeps failing before its endpoint is
// marked failing.
const FailingAfter = 24 * time.Hour

// jittered returns d scaled by a random factor in [0.8, 1.2).
func jittered(d time.Duration, r func() float64) time.Duration {
	if r == nil {
		r = rand.Float64
	}
	return time.Duration(float64(d) * (0.8 + 0.4*r()))
}

// companies intersects "every company" (nil) or a list with a filter
// (empty: no filter). The result is nil for every company.
func companies(owner, filter []string) []string {
	switch {
	case len(filter) == 0:
		return owner
	case owner == nil:
		return filter
	}
	out := []string{}
	for _, c := range filter {
		if slices.Contains(owner, c) {
			out = append(out, c)
		}
	}
	return out
}
