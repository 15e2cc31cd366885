package webhooks

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
)

// Delivery is one event's journey to one endpoint.
type Delivery struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id" doc:"Also the webhook-id header of every attempt: receivers deduplicate on it."`
	EventType      string     `json:"event_type"`
	Subject        string     `json:"subject"`
	Status         string     `json:"status" doc:"pending, succeeded or failed (retries exhausted, or the owner may no longer receive it)."`
	AttemptCount   int        `json:"attempt_count"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty" doc:"When a pending delivery is tried next."`
	LastStatusCode int        `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	CompletedAt    *time.Time `json:"completed_at,omitempty"`
	Attempts       []Attempt  `json:"attempts" doc:"The latest attempts, newest first (at most 20)."`
}

// Attempt is one HTTP request of a delivery.
type Attempt struct {
	ID           string    `json:"id"`
	AttemptedAt  time.Time `json:"attempted_at"`
	LatencyMS    int64     `json:"latency_ms"`
	StatusCode   int       `json:"status_code,omitempty" doc:"0 when no response came."`
	ResponseBody string    `json:"response_body,omitempty" doc:"The first 1 KiB of the response."`
	Error        string    `json:"error,omitempty"`
	Succeeded    bool      `json:"succeeded"`
	Cause        string    `json:"cause" doc:"schedule (first try and retries) or replay."`
}

// Deliveries returns a page of an endpoint's deliveries, newest first,
// optionally of one status or event.
func (s *Service) Deliveries(ctx context.Context, endpointID, status, eventID, before string, limit int) ([]Delivery, error) {
	if _, err := s.Get(ctx, endpointID); err != nil {
		return nil, err
	}
	q := s.DB.Reader(ctx)
	query := `SELECT id, event_id, event_type, order_key, status, attempts, next_attempt_at, last_status_code, last_error, created_at, completed_at
FROM webhook_deliveries WHERE endpoint_id = $1`
	args := []any{endpointID}
	add := func(cond string, v any) {
		args = append(args, v)
		query += fmt.Sprintf(" AND "+cond, len(args))
	}
	if before != "" {
		add("id < $%d", before)
	}
	if status != "" {
		add("status = $%d", status)
	}
	if eventID != "" {
		add("event_id = $%d", eventID)
	}
	args = append(args, limit)
	query += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	var out []Delivery
	for rows.Next() {
		var dl Delivery
		var next, done sql.NullTime
		if err := rows.Scan(&dl.ID, &dl.EventID, &dl.EventType, &dl.Subject, &dl.Status, &dl.AttemptCount, &next, &dl.LastStatusCode,
			&dl.LastError, &dl.CreatedAt, &done); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		dl.CreatedAt = dl.CreatedAt.UTC()
		if dl.Subject == dl.EventID {
			dl.Subject = "" // the order key of an event about no record is its own id
		}
		if next.Valid && dl.Status == DeliveryPending {
			t := next.Time.UTC()
			dl.NextAttemptAt = &t
		}
		if done.Valid {
			t := done.Time.UTC()
			dl.CompletedAt = &t
		}
		dl.Attempts = []Attempt{}
		out = append(out, dl)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Attempts, err = attempts(ctx, q, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func attempts(ctx context.Context, q db.Querier, deliveryID string) ([]Attempt, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, attempted_at, duration_ms, status_code, response_body, error, succeeded, cause
FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id DESC LIMIT 20`, deliveryID)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	defer rows.Close()
	out := []Attempt{}
	for rows.Next() {
		var a Attempt
		if err := rows.Scan(&a.ID, &a.AttemptedAt, &a.LatencyMS, &a.StatusCode, &a.ResponseBody, &a.Error, &a.Succeeded, &a.Cause); err != nil {
			return nil, fmt.Errorf("list attempts: %w", err)
		}
		a.AttemptedAt = a.AttemptedAt.UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// ReplayInput names what to send again: one event, or every event of a
// time range (event time, since inclusive, until exclusive).
type ReplayInput struct {
	EventID string     `json:"event_id,omitempty" doc:"Send this event again."`
	Since   *time.Time `json:"since,omitempty" doc:"Send again every event from this instant…"`
	Until   *time.Time `json:"until,omitempty" doc:"…up to this one (default: now)."`
}

// ReplayResult says how many deliveries were queued.
type ReplayResult struct {
	Queued int `json:"queued" doc:"Deliveries queued: existing ones are sent again under the same webhook-id, events the endpoint never had (it was disabled, or failed) are added."`
}

// Replay queues deliveries again, due now, restarting their retry
// schedule. Only events the endpoint's filters and its owner's current
// authority select are queued; a named event outside them is 422.
func (s *Service) Replay(ctx context.Context, endpointID string, in ReplayInput, authority func(Endpoint) (auth.Principal, bool, string, error)) (ReplayResult, error) {
	switch {
	case in.EventID == "" && in.Since == nil:
		return ReplayResult{}, apperr.Fields(apperr.FieldError{Pointer: "/event_id", Detail: "Name an event, or a time range with since (and until)."})
	case in.EventID != "" && (in.Since != nil || in.Until != nil):
		return ReplayResult{}, apperr.Field("/event_id", "Name an event or a time range, not both.")
	case in.Since != nil && in.Until != nil && !in.Until.After(*in.Since):
		return ReplayResult{}, apperr.Field("/until", "until must be after since.")
	}
	e, err := s.Get(ctx, endpointID)
	if err != nil {
		return ReplayResult{}, err
	}
	if p, _ := auth.FromContext(ctx); !canManage(p, e) {
		return ReplayResult{}, apperr.New(apperr.Forbidden, "Only the owning client or a client administrator (clients:write) may replay this endpoint's deliveries.")
	}
	owner, ok, reason, err := authority(e)
	if err != nil {
		return ReplayResult{}, err
	}
	if !ok {
		return ReplayResult{}, apperr.New(apperr.Conflict, "Nothing can be delivered to this endpoint: %s.", reason)
	}
	types, cos := filter(e, grant{p: owner, ok: true})
	if len(types) == 0 || (cos != nil && len(cos) == 0) {
		return ReplayResult{Queued: 0}, nil
	}
	var res ReplayResult
	err = s.DB.Transact(ctx, func(tx *db.Tx) error {
		// The endpoint's lock first, as fan-out and recording take it
		// (see lockEndpoints): requeued deliveries are marked ready
		// from what those have committed.
		if _, err := load(ctx, tx, endpointID, true); err != nil {
			return err
		}
		now := tx.Now()
		var evs []events.Stored
		if in.EventID != "" {
			got, err := events.ByIDs(ctx, tx, []string{in.EventID})
			if err != nil {
				return err
			}
			ev, found := got[in.EventID]
			if !found || ev.Seq == 0 {
				return apperr.Field("/event_id", "No event %q in the feed.", in.EventID)
			}
			if !slices.Contains(types, ev.Type) || (cos != nil && !slices.Contains(cos, ev.CompanyID)) {
				return apperr.Field("/event_id", "Event %s (%s) is not one this endpoint receives.", ev.ID, ev.Type)
			}
			evs = []events.Stored{ev}
		} else {
			until := now
			if in.Until != nil {
				until = *in.Until
			}
			var err error
			if evs, err = eventsBetween(ctx, tx, *in.Since, until, types, cos); err != nil {
				return err
			}
		}
		for start := 0; start < len(evs); start += 100 {
			chunk := evs[start:min(start+100, len(evs))]
			if err := requeue(ctx, tx, e.ID, chunk, now); err != nil {
				return err
			}
		}
		res.Queued = len(evs)
		details := map[string]any{"queued": len(evs)}
		if in.EventID != "" {
			details["event_id"] = in.EventID
		} else {
			details["since"] = in.Since.UTC().Format(time.RFC3339Nano)
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "webhook_endpoint.replay", ResourceType: "webhook_endpoint", ResourceID: e.ID, Details: details})
	})
	return res, err
}

// MaxReplay bounds one replay by time range; a wider range is refused
// with a hint to split it.
const MaxReplay = 50000

func eventsBetween(ctx context.Context, q db.Querier, since, until time.Time, types, cos []string) ([]events.Stored, error) {
	var out []events.Stored
	after := int64(0)
	// The feed is ordered by position, not time; positions follow commit
	// order closely, so find the first position at or after since and
	// read on, filtering by time.
	if err := q.QueryRowContext(ctx, "SELECT COALESCE(MIN(seq), 0) - 1 FROM outbox_events WHERE occurred_at >= $1 AND seq IS NOT NULL", since).Scan(&after); err != nil {
		return nil, fmt.Errorf("replay range: %w", err)
	}
	if after < 0 {
		return nil, nil
	}
	for {
		page, err := events.List(ctx, q, events.Filter{After: after, Types: types, Companies: cos, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, ev := range page {
			if !ev.Time.Before(since) && ev.Time.Before(until) {
				out = append(out, ev)
			}
		}
		if len(out) > MaxReplay {
			return nil, apperr.New(apperr.Invalid, "More than %d events in that range; replay it in smaller ranges.", MaxReplay).
				WithFields(apperr.FieldError{Pointer: "/until", Detail: "Narrow the range."})
		}
		if len(page) < 1000 || !page[len(page)-1].Time.Before(until.Add(time.Minute)) {
			return out, nil
		}
		after = page[len(page)-1].Seq
	}
}

// requeue makes each event's delivery pending and due now, keeping its id
// (and so its webhook-id), or adds it.
func requeue(ctx context.Context, tx *db.Tx, endpointID string, evs []events.Stored, now time.Time) error {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_seq, event_type, order_key, status, next_attempt_at, created_at) VALUES `)
	args := []any{now}
	for i, ev := range evs {
		if i > 0 {
			sb.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, $%d, $%d, 'pending', $1, $1)", n+1, n+2, n+3, n+4, n+5, n+6)
		args = append(args, id.New("whd"), endpointID, ev.ID, ev.Seq, ev.Type, orderKey(ev))
	}
	sb.WriteString(` ON CONFLICT (endpoint_id, event_id) DO UPDATE SET status = 'pending', step = 0, next_attempt_at = $1,
first_failed_at = NULL, completed_at = NULL, lease_owner = '', leased_until = NULL, last_error = '', cause = 'replay'`)
	if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
		return fmt.Errorf("requeue deliveries: %w", err)
	}
	return markReady(ctx, tx, endpointID, evs)
}

// PingResult is what a test ping got back.
type PingResult struct {
	WebhookID    string `json:"webhook_id"`
	Succeeded    bool   `json:"succeeded"`
	StatusCode   int    `json:"status_code,omitempty"`
	LatencyMS    int64  `json:"latency_ms"`
	ResponseBody string `json:"response_body,omitempty"`
	Error        string `json:"error,omitempty"`
}

// Ping sends a signed test event (mainstay.webhooks.webhook_endpoint.pinged)
// to the endpoint now, enabled or not, and reports the answer. It is not
// in the feed and not retried.
func (d *Dispatcher) Ping(ctx context.Context, endpointID string) (PingResult, error) {
	e, err := d.svc.Get(ctx, endpointID)
	if err != nil {
		return PingResult{}, err
	}
	if p, _ := auth.FromContext(ctx); !canManage(p, e) {
		return PingResult{}, apperr.New(apperr.Forbidden, "Only the owning client or a client administrator (clients:write) may test this endpoint.")
	}
	ev := events.Stored{
		SpecVersion: "1.0", ID: id.New("evt"), Source: "/v1/webhook-endpoints", Type: EventPing, Subject: e.ID,
		Time: d.o.Clock.Now(), DataContentType: "application/json",
	}
	ev.Data, _ = json.Marshal(map[string]string{"endpoint_id": e.ID, "message": "A test delivery from Mainstay: the signature verifies with your endpoint's secret."})
	out, err := d.send(ctx, e, ev)
	if err != nil {
		return PingResult{}, err
	}
	d.m.attempts.WithLabelValues(out.kind).Inc()
	return PingResult{WebhookID: ev.ID, Succeeded: out.kind == "succeeded", StatusCode: out.status, LatencyMS: out.duration.Milliseconds(),
		ResponseBody: out.body, Error: out.err}, nil
}

// Authority is the current authority of an endpoint's owner.
func (d *Dispatcher) Authority(ctx context.Context) func(Endpoint) (auth.Principal, bool, string, error) {
	return func(e Endpoint) (auth.Principal, bool, string, error) {
		g, err := d.authority(ctx, e, map[string]grant{})
		return g.p, g.ok, g.reason, err
	}
}
