package eventsapi

import (
	"net/http"
	"reflect"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/events/webhooks"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// EndpointList is a page of endpoints.
type EndpointList struct {
	Data          []webhooks.Endpoint `json:"data"`
	NextPageToken string              `json:"next_page_token"`
}

// DeliveryList is a page of deliveries.
type DeliveryList struct {
	Data          []webhooks.Delivery `json:"data"`
	NextPageToken string              `json:"next_page_token"`
}

// RotateInput asks for a new secret.
type RotateInput struct {
	PreviousSecretValidFor *int64 `json:"previous_secret_valid_for_seconds,omitempty" minimum:"0" maximum:"604800" doc:"How long the old secret keeps signing beside the new one (default 86400, at most 7 days; 0 drops it at once)."`
}

// MountWebhooks adds /v1/webhook-endpoints.
func MountWebhooks(api *rest.API, svc *webhooks.Service, disp *webhooks.Dispatcher) {
	read, write := auth.Scope("webhooks", auth.Read), auth.Scope("webhooks", auth.Write)
	idParam := []rest.Param{{Name: "id", In: "path"}}
	etag := func(w http.ResponseWriter, e webhooks.Endpoint) { w.Header().Set("ETag", e.ETag()) }
	api.Handle(rest.Operation{
		ID: "createWebhookEndpoint", Method: http.MethodPost, Path: "/v1/webhook-endpoints", Tag: "Webhooks", Scope: write, XML: true, Idempotent: true,
		Summary: "Subscribe a URL to events",
		Description: "Registers an https URL to receive the event types named (exact names, prefixes such as mainstay.sales.*, or *). The endpoint " +
			"belongs to the calling client and receives only what that client may read — its scopes and companies, checked again at every " +
			"delivery. Deliveries are POSTs of one CloudEvent, signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature " +
			"headers) with the secret returned here, once. It receives events from now on; POST …/replay reaches back.",
		Request: reflect.TypeOf(webhooks.Input{}), Response: reflect.TypeOf(webhooks.WithSecret{}), Status: http.StatusCreated,
		Headers: []string{"Location", "ETag"},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in webhooks.Input
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		e, err := svc.Create(r.Context(), in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/webhook-endpoints/"+e.ID)
		etag(w, e.Endpoint)
		return rest.Respond(w, r, http.StatusCreated, e)
	})
	api.Handle(rest.Operation{
		ID: "listWebhookEndpoints", Method: http.MethodGet, Path: "/v1/webhook-endpoints", Tag: "Webhooks", Scope: read, XML: true,
		Summary:     "List webhook endpoints",
		Description: "Your client's endpoints (every client's, with clients:read), oldest first.",
		Params:      []rest.Param{{Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response:    reflect.TypeOf(EndpointList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		var out EndpointList
		var err error
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"webhook-endpoints"}, func(e webhooks.Endpoint) string { return e.ID },
			func(after string, limit int) ([]webhooks.Endpoint, error) { return svc.List(r.Context(), after, limit) })
		if err != nil {
			return err
		}
		if out.Data == nil {
			out.Data = []webhooks.Endpoint{}
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getWebhookEndpoint", Method: http.MethodGet, Path: "/v1/webhook-endpoints/{id}", Tag: "Webhooks", Scope: read, XML: true,
		Summary: "Get a webhook endpoint", Params: idParam, Response: reflect.TypeOf(webhooks.Endpoint{}), Errors: []int{404}, Headers: []string{"ETag"},
	}, func(w http.ResponseWriter, r *http.Request) error {
		e, err := svc.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		etag(w, e)
		return rest.Respond(w, r, http.StatusOK, e)
	})
	api.Handle(rest.Operation{
		ID: "updateWebhookEndpoint", Method: http.MethodPatch, Path: "/v1/webhook-endpoints/{id}", Tag: "Webhooks", Scope: write,
		Summary: "Change a webhook endpoint",
		Description: "A JSON merge patch of url, description, event_types, company_ids or enabled; If-Match is required. Enabling an endpoint " +
			"that was disabled (by its owner, or because it answered 410 Gone) resumes delivery where it stopped: nothing is lost.",
		Params: idParam, Request: reflect.TypeOf(webhooks.Patch{}), MergePatch: true, Response: reflect.TypeOf(webhooks.Endpoint{}),
		Errors: []int{404, 412, 428}, Headers: []string{"ETag"},
	}, func(w http.ResponseWriter, r *http.Request) error {
		body, err := api.ReadBody(r, reflect.TypeOf(webhooks.Patch{}), false, true)
		if err != nil {
			return err
		}
		var in webhooks.Patch
		if err := rest.Into(body, &in); err != nil {
			return err
		}
		if v, ok := body["description"]; ok && v == nil {
			empty := ""
			in.Description = &empty
		}
		if v, ok := body["company_ids"]; ok && v == nil {
			none := []string{}
			in.CompanyIDs = &none
		}
		for _, k := range []string{"url", "event_types", "enabled"} {
			if v, ok := body[k]; ok && v == nil {
				return apperr.Field("/"+k, "%s cannot be cleared.", k)
			}
		}
		e, err := svc.Update(r.Context(), r.PathValue("id"), func(current string) error { return rest.CheckIfMatch(r, current, true) }, in)
		if err != nil {
			return err
		}
		etag(w, e)
		return rest.Respond(w, r, http.StatusOK, e)
	})
	api.Handle(rest.Operation{
		ID: "deleteWebhookEndpoint", Method: http.MethodDelete, Path: "/v1/webhook-endpoints/{id}", Tag: "Webhooks", Scope: write,
		Summary: "Delete a webhook endpoint", Description: "Deletes the endpoint and its delivery history. To pause instead, PATCH enabled false.",
		Params: idParam, Status: http.StatusNoContent, Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		if err := svc.Delete(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		return rest.NoContent(w)
	})
	api.Handle(rest.Operation{
		ID: "rotateWebhookSecret", Method: http.MethodPost, Path: "/v1/webhook-endpoints/{id}/rotate-secret", Tag: "Webhooks", Scope: write, XML: true,
		Summary: "Rotate an endpoint's signing secret",
		Description: "Returns a new secret, once. Until previous_secret_expires_at every delivery carries two signatures in webhook-signature, " +
			"one per secret, so a receiver can switch secrets without refusing a delivery.",
		Params: idParam, Request: reflect.TypeOf(RotateInput{}), Response: reflect.TypeOf(webhooks.WithSecret{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in RotateInput
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		keep := 24 * time.Hour
		if in.PreviousSecretValidFor != nil {
			keep = time.Duration(*in.PreviousSecretValidFor) * time.Second
		}
		e, err := svc.Rotate(r.Context(), r.PathValue("id"), keep)
		if err != nil {
			return err
		}
		etag(w, e.Endpoint)
		return rest.Respond(w, r, http.StatusOK, e)
	})
	api.Handle(rest.Operation{
		ID: "listWebhookDeliveries", Method: http.MethodGet, Path: "/v1/webhook-endpoints/{id}/deliveries", Tag: "Webhooks", Scope: read, XML: true,
		Summary: "List an endpoint's deliveries and their attempts",
		Description: "Newest first: each event sent (or to be sent) to the endpoint, its status, when it is tried next, and its latest attempts " +
			"with the response code, latency and the first 1 KiB of the response body. Filter by status (pending, succeeded, failed) or event_id.",
		Params: []rest.Param{{Name: "id", In: "path"}, {Name: "status", In: "query"}, {Name: "event_id", In: "query"},
			{Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(DeliveryList{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		status := q.Get("status")
		switch status {
		case "", webhooks.DeliveryPending, webhooks.DeliverySucceeded, webhooks.DeliveryFailed:
		default:
			return apperr.New(apperr.BadRequest, "status is pending, succeeded or failed.").
				WithFields(apperr.FieldError{Pointer: "query:status", Detail: "unknown status " + status})
		}
		var out DeliveryList
		var err error
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"webhook-deliveries", r.PathValue("id"), status, q.Get("event_id")},
			func(d webhooks.Delivery) string { return d.ID },
			func(before string, limit int) ([]webhooks.Delivery, error) {
				return svc.Deliveries(r.Context(), r.PathValue("id"), status, q.Get("event_id"), before, limit)
			})
		if err != nil {
			return err
		}
		if out.Data == nil {
			out.Data = []webhooks.Delivery{}
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "replayWebhookDeliveries", Method: http.MethodPost, Path: "/v1/webhook-endpoints/{id}/replay", Tag: "Webhooks", Scope: write, XML: true,
		Summary: "Send events to an endpoint again",
		Description: "One event (event_id) or every event of a time range (since, until): their deliveries are queued again, due now, under the " +
			"same webhook-id (so a receiver that already has one can ignore it), and events the endpoint never got — it was disabled, or " +
			"they failed for good — are added. Only what the endpoint's filters and its owner's current access select is sent.",
		Params: idParam, Request: reflect.TypeOf(webhooks.ReplayInput{}), Response: reflect.TypeOf(webhooks.ReplayResult{}), Status: http.StatusAccepted,
		Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in webhooks.ReplayInput
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		res, err := svc.Replay(r.Context(), r.PathValue("id"), in, disp.Authority(r.Context()))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusAccepted, res)
	})
	api.Handle(rest.Operation{
		ID: "testWebhookEndpoint", Method: http.MethodPost, Path: "/v1/webhook-endpoints/{id}/test", Tag: "Webhooks", Scope: write, XML: true,
		Summary: "Send a signed test event",
		Description: "Sends mainstay.webhooks.webhook_endpoint.pinged now, signed like every delivery, and reports the answer. Not queued, not " +
			"retried, not in the feed; works while the endpoint is disabled.",
		Params: idParam, Response: reflect.TypeOf(webhooks.PingResult{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		res, err := disp.Ping(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, res)
	})
}
