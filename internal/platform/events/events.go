// Package events writes business events to the outbox in the caller's
// transaction, as CloudEvents 1.0, and reads them back in feed order.
// Delivery (webhooks, streams) reads the outbox; nothing is published
// before the business change commits.
package events

import (
	"context"
	"encoding/json"
	"fmt"
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
	CompanyID       string          `json:"companyid,omitempty"`
	Data            json.RawMessage `json:"data"`
	Seq             int64           `json:"-"`
}

// Record writes e to the outbox in tx and returns its ID.
func Record(ctx context.Context, tx *db.Tx, e Event) (string, error) {
	if !strings.HasPrefix(e.Type, "mainstay.") || strings.Count(e.Type, ".") < 3 {
		return "", fmt.Errorf("record event: type %q is not mainstay.<module>.<entity>.<action>", e.Type)
	}
	if e.Source == "" {
		e.Source = "/mainstay"
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return "", fmt.Errorf("record event %s: %w", e.Type, err)
	}
	eventID := id.New("evt")
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox_events
(event_id, type, source, subject, company_id, occurred_at, data) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		eventID, e.Type, e.Source, e.Subject, e.CompanyID, tx.Now(), string(data))
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
	rows, err := q.QueryContext(ctx, `SELECT seq, event_id, source, type, subject, company_id, occurred_at, data
FROM outbox_events WHERE seq > $1 ORDER BY seq LIMIT $2`, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", seq, err)
	}
	defer rows.Close()
	var out []Stored
	for rows.Next() {
		s := Stored{SpecVersion: "1.0", DataContentType: "application/json"}
		var data string
		if err := rows.Scan(&s.Seq, &s.ID, &s.Source, &s.Type, &s.Subject, &s.CompanyID, &s.Time, &data); err != nil {
			return nil, fmt.Errorf("read events after %d: %w", seq, err)
		}
		s.Time = s.Time.UTC()
		s.Data = json.RawMessage(data)
		out = append(out, s)
	}
	return out, rows.Err()
}
