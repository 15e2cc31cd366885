// Package events writes business events to the outbox in the caller's
// transaction, as CloudEvents 1.0, and reads them back in feed order.
// Delivery (webhooks, streams) reads the outbox; nothing is published
// before the business change commits.
package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
)

// Topic is what the sequencer subscribes to.
const Topic = "outbox_events"

// Event is what a module records: Type is mainstay.<module>.<entity>.<past
// tense> (mainstay.sales.order.confirmed), Subject the resource's ID, Data
// the resource as the API returns it.
type Event struct {
	Type      string
	Source    string // URI reference; defaults to "/mainstay"
	Subject   string
	CompanyID string
	Data      any
}

// Stored is an event as read from the feed, in CloudEvents' JSON form.
type Stored struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	CompanyID       string          `json:"companyid,omitempty" doc:"CloudEvents extension: the company the event belongs to."`
	Sequence        string          `json:"sequence,omitempty" doc:"CloudEvents sequence extension: the event's position in the feed, increasing; the cursor of GET /v1/events and the SSE id."`
	Data            json.RawMessage `json:"data"`
	Seq             int64           `json:"-"`
	// Depth and CausedBy say which automation rule wrote the event and
	// how deep in a chain of rules (0: written by a request).
	Depth    int    `json:"-"`
	CausedBy string `json:"-"`
}

type causeKey struct{}

// Cause is what is writing events: the automation rule running and its
// depth in a chain of rules (a rule run for an event of depth n writes
// events of depth n+1).
type Cause struct {
	Rule  string
	Depth int
}

// WithCause marks the events written under ctx as caused by c.
func WithCause(ctx context.Context, c Cause) context.Context {
	return context.WithValue(ctx, causeKey{}, c)
}

// CauseOf returns the cause ctx carries (zero: a request).
func CauseOf(ctx context.Context) Cause {
	c, _ := ctx.Value(causeKey{}).(Cause)
	return c
}

// Record writes e to the outbox in tx and returns its ID.
func Record(ctx context.Context, tx *db.Tx, e Event) (string, error) {
	if err := checkName(e.Type); err != nil {
		return "", fmt.Errorf("record event: %w", err)
	}
	if _, ok := Lookup(e.Type); !ok {
		return "", fmt.Errorf("record event: type %q is not declared (events.Declare)", e.Type)
	}
	if e.Source == "" {
		e.Source = "/mainstay"
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return "", fmt.Errorf("record event %s: %w", e.Type, err)
	}
	eventID := id.New("evt")
	cause := CauseOf(ctx)
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox_events
(event_id, type, source, subject, company_id, occurred_at, data, depth, caused_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		eventID, e.Type, e.Source, e.Subject, e.CompanyID, tx.Now(), string(data), cause.Depth, cause.Rule)
	if err != nil {
		return "", fmt.Errorf("record event %s: %w", e.Type, err)
	}
	tx.Notify(Topic)
	return eventID, nil
}

// After returns up to limit sequenced events with a position after seq, in
// feed order. Events not yet sequenced are not returned: they will appear
// after every position returned so far.
func After(ctx context.Context, q db.Querier, seq int64, limit int) ([]Stored, error) {
	return scan(ctx, q, `SELECT seq, event_id, source, type, subject, company_id, occurred_at, data, depth, caused_by
FROM outbox_events WHERE seq > $1 ORDER BY seq LIMIT $2`, seq, limit)
}

// Filter selects events from the feed.
type Filter struct {
	After int64    // positions after this one
	Upto  int64    // and at most this one (0: no bound)
	Types []string // only these types; empty selects nothing
	// Companies limits events to these companies; nil means every company
	// and company-less events too. A non-nil list never matches a
	// company-less event (client lifecycle, webhook endpoints): those are
	// for principals that work in every company.
	Companies []string
	Subject   string // only this subject, when set
	Limit     int
}

// List returns up to f.Limit sequenced events matching f, in feed order.
func List(ctx context.Context, q db.Querier, f Filter) ([]Stored, error) {
	if len(f.Types) == 0 || (f.Companies != nil && len(f.Companies) == 0) {
		return nil, nil
	}
	var sb strings.Builder
	args := []any{f.After}
	sb.WriteString(`SELECT seq, event_id, source, type, subject, company_id, occurred_at, data, depth, caused_by
FROM outbox_events WHERE seq > $1`)
	in := func(col string, vals []string) {
		sb.WriteString(" AND " + col + " IN (")
		for i, v := range vals {
			if i > 0 {
				sb.WriteString(", ")
			}
			args = append(args, v)
			fmt.Fprintf(&sb, "$%d", len(args))
		}
		sb.WriteString(")")
	}
	if f.Upto > 0 {
		args = append(args, f.Upto)
		fmt.Fprintf(&sb, " AND seq <= $%d", len(args))
	}
	in("type", f.Types)
	if f.Companies != nil {
		in("company_id", f.Companies)
	}
	if f.Subject != "" {
		args = append(args, f.Subject)
		fmt.Fprintf(&sb, " AND subject = $%d", len(args))
	}
	args = append(args, f.Limit)
	fmt.Fprintf(&sb, " ORDER BY seq LIMIT $%d", len(args))
	return scan(ctx, q, sb.String(), args...)
}

// Head is the highest position given so far (0 for an empty feed). Rows
// numbered later always get higher positions, so "everything up to Head"
// is a stable set.
func Head(ctx context.Context, q db.Querier) (int64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM outbox_events").Scan(&n); err != nil {
		return 0, fmt.Errorf("read feed head: %w", err)
	}
	return n, nil
}

// ByIDs returns the sequenced events with the given ids, by id.
func ByIDs(ctx context.Context, q db.Querier, ids []string) (map[string]Stored, error) {
	out := make(map[string]Stored, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := make([]any, len(chunk))
		marks := make([]string, len(chunk))
		for i, v := range chunk {
			args[i] = v
			marks[i] = fmt.Sprintf("$%d", i+1)
		}
		evs, err := scan(ctx, q, `SELECT seq, event_id, source, type, subject, company_id, occurred_at, data, depth, caused_by
FROM outbox_events WHERE event_id IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			out[e.ID] = e
		}
	}
	return out, nil
}

func scan(ctx context.Context, q db.Querier, query string, args ...any) ([]Stored, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var out []Stored
	for rows.Next() {
		s := Stored{SpecVersion: "1.0", DataContentType: "application/json"}
		var data string
		var seq sql.NullInt64
		if err := rows.Scan(&seq, &s.ID, &s.Source, &s.Type, &s.Subject, &s.CompanyID, &s.Time, &data, &s.Depth, &s.CausedBy); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		s.Seq = seq.Int64
		if s.Seq > 0 {
			s.Sequence = strconv.FormatInt(s.Seq, 10)
		}
		s.Time = s.Time.UTC()
		s.Data = json.RawMessage(data)
		out = append(out, s)
	}
	return out, rows.Err()
}

// Advance moves a consumer of the feed (a webhook endpoint, an automation
// rule) from its cursor to head: it reads the events f selects in pages
// of f.Limit and, for each page, calls apply in one transaction with the
// page and the range it covers. apply moves the consumer's stored cursor
// from → to with a compare-and-set and reports whether it did, so that of
// two nodes reading the same range only one applies it; Advance stops
// when the cursor reaches head or another node moved it.
func Advance(ctx context.Context, d *db.DB, from, head int64, f Filter,
	apply func(tx *db.Tx, page []Stored, from, to int64) (bool, error)) error {
	for from < head {
		f.After, f.Upto = from, head
		page, err := List(ctx, d.Reader(ctx), f)
		if err != nil {
			return err
		}
		to := head
		if len(page) == f.Limit {
			to = page[len(page)-1].Seq
		}
		moved := false
		if err := d.Transact(ctx, func(tx *db.Tx) error {
			var err error
			moved, err = apply(tx, page, from, to)
			return err
		}); err != nil {
			return err
		}
		if !moved {
			return nil
		}
		from = to
	}
	return nil
}
