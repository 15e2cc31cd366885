package mfg

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Shop-floor event types.
var ShopEventTypes = []string{"start", "pause", "resume", "finish", "good", "scrap", "downtime", "reading"}

// MaxBulkEvents bounds one bulk call (the request body limit, 1 MiB by
// default, usually binds first at about 5,000 events).
const MaxBulkEvents = 10000

// MachineReading is one value a machine reported.
type MachineReading struct {
	Name  string        `json:"name" minLength:"1" maxLength:"50" doc:"What was measured; an inspection plan's characteristic code to feed quality inspections."`
	Value money.Decimal `json:"value"`
	Unit  string        `json:"unit,omitempty" maxLength:"20"`
}

// ShopFloorEvent is one report from a machine, terminal or MES.
type ShopFloorEvent struct {
	ProductionOrderID string           `json:"production_order_id,omitempty" doc:"Bulk intake only: the order (in the path otherwise)."`
	Operation         int              `json:"operation,omitempty" doc:"Bulk intake only: the routing step's seq (in the path otherwise)."`
	EventID           string           `json:"event_id" minLength:"1" maxLength:"100" doc:"The sender's id; an event id already received for the order is ignored (idempotent)."`
	Type              string           `json:"type" enum:"start,pause,resume,finish,good,scrap,downtime,reading"`
	OccurredAt        time.Time        `json:"occurred_at" doc:"When it happened (RFC 3339); events are folded in this order, whenever they arrive."`
	Quantity          *money.Decimal   `json:"quantity,omitempty" doc:"good and scrap: stock units."`
	Reason            string           `json:"reason,omitempty" maxLength:"200" doc:"Required on scrap and downtime; optional on pause."`
	DurationSeconds   int64            `json:"duration_seconds,omitempty" minimum:"0" doc:"downtime: how long the machine stood."`
	Readings          []MachineReading `json:"readings,omitempty" maxItems:"50" doc:"reading: the values."`
}

// ShopFloorEventsRequest carries one or many events.
type ShopFloorEventsRequest struct {
	CompanyID string           `json:"company_id,omitempty"`
	Events    []ShopFloorEvent `json:"events" minItems:"1" maxItems:"10000"`
}

// OperationProgress is the state of one operation after intake; it is
// also the payload of the progressed event.
type OperationProgress struct {
	ProductionOrderID string                   `json:"production_order_id"`
	Status            string                   `json:"status" doc:"The order's status."`
	ProgressPercent   money.Decimal            `json:"progress_percent"`
	ActualLabour      money.Decimal            `json:"actual_labour"`
	Operation         ProductionOrderOperation `json:"operation"`
}

// ShopFloorIntakeResult is what an intake call did.
type ShopFloorIntakeResult struct {
	Accepted   int                 `json:"accepted" doc:"New events stored and folded in."`
	Duplicates int                 `json:"duplicates" doc:"Events whose event_id the order already had (or that came twice in this call): ignored."`
	Late       int                 `json:"late" doc:"New events older than the latest already folded into their operation: the operation was recomputed from all its events in time order."`
	Operations []OperationProgress `json:"operations" doc:"Each operation the call changed, after the call."`
}

type storedEvent struct {
	ShopFloorEvent
	at time.Time
}

func checkEvent(e *ShopFloorEvent, ptr string, fields *[]apperr.FieldError) {
	add := func(p, d string) { *fields = append(*fields, apperr.FieldError{Pointer: ptr + p, Detail: d}) }
	if strings.TrimSpace(e.EventID) == "" {
		add("/event_id", "is required")
	}
	if e.OccurredAt.IsZero() {
		add("/occurred_at", "is required")
	}
	switch e.Type {
	case "good", "scrap":
		if e.Quantity == nil {
			add("/quantity", "a "+e.Type+" event needs the quantity")
		} else if fe := checkQuantity(ptr+"/quantity", *e.Quantity, false); fe != nil {
			*fields = append(*fields, *fe)
		}
		if e.Type == "scrap" && strings.TrimSpace(e.Reason) == "" {
			add("/reason", "a scrap event needs a reason")
		}
	case "downtime":
		if strings.TrimSpace(e.Reason) == "" {
			add("/reason", "a downtime event needs a reason")
		}
		if e.DurationSeconds <= 0 {
			add("/duration_seconds", "a downtime event needs a positive duration")
		}
	case "reading":
		if len(e.Readings) == 0 {
			add("/readings", "a reading event needs at least one reading")
		}
		for i, r := range e.Readings {
			if _, err := r.Value.Scaled(money.QuantityScale); err != nil {
				add(fmt.Sprintf("/readings/%d/value", i), "at most 6 decimal places")
			}
		}
	case "start", "pause", "resume", "finish":
	default:
		add("/type", "must be one of "+strings.Join(ShopEventTypes, ", "))
	}
	if e.Type != "good" && e.Type != "scrap" && e.Quantity != nil {
		add("/quantity", "only good and scrap events carry a quantity")
	}
}

// Intake stores shop-floor events and folds them into their orders'
// operations, in the caller's transaction: every event is checked first
// (422 naming each bad one, nothing stored), orders are locked in id order
// (concurrent calls on one order queue, on different orders proceed), a
// repeated event id is ignored, and each changed operation is written
// once and published as one progressed event, however many events it
// took. pointerOf gives the pointer of event i in the request.
func (s *Service) Intake(ctx context.Context, tx *db.Tx, companyID string, evs []ShopFloorEvent, pointerOf func(i int) string) (ShopFloorIntakeResult, error) {
	var fields []apperr.FieldError
	for i := range evs {
		e := &evs[i]
		checkEvent(e, pointerOf(i), &fields)
		if e.ProductionOrderID == "" {
			fields = append(fields, apperr.FieldError{Pointer: pointerOf(i) + "/production_order_id", Detail: "is required"})
		}
	}
	if len(fields) > 0 {
		return ShopFloorIntakeResult{}, apperr.Fields(fields...)
	}
	byOrder := map[string][]int{}
	var orderIDs []string
	for i, e := range evs {
		if _, ok := byOrder[e.ProductionOrderID]; !ok {
			orderIDs = append(orderIDs, e.ProductionOrderID)
		}
		byOrder[e.ProductionOrderID] = append(byOrder[e.ProductionOrderID], i)
	}
	sort.Strings(orderIDs)
	res := ShopFloorIntakeResult{Operations: []OperationProgress{}}
	for _, oid := range orderIDs {
		idx := byOrder[oid]
		o, err := loadOrder(ctx, tx, companyID, oid, true)
		if apperr.CodeOf(err) == apperr.NotFound {
			return ShopFloorIntakeResult{}, apperr.Field(pointerOf(idx[0])+"/production_order_id", "No production order %q in this company.", oid)
		}
		if err != nil {
			return ShopFloorIntakeResult{}, err
		}
		if o.Status != Released && o.Status != InProgress && o.Status != Completed {
			return ShopFloorIntakeResult{}, apperr.New(apperr.Conflict, "Production order %s is %s; it takes shop-floor events while released, in progress or completed.", o.ID, o.Status).
				WithFields(apperr.FieldError{Pointer: pointerOf(idx[0]) + "/production_order_id", Detail: "order is " + o.Status})
		}
		opIndex := map[int]int{}
		for k, op := range o.Operations {
			opIndex[op.Seq] = k
		}
		seen := map[string]bool{}
		var fresh []storedEvent
		for _, i := range idx {
			e := evs[i]
			if _, ok := opIndex[e.Operation]; !ok {
				fields = append(fields, apperr.FieldError{Pointer: pointerOf(i) + "/operation", Detail: fmt.Sprintf("production order %s has no operation %d", o.ID, e.Operation)})
				continue
			}
			if seen[e.EventID] {
				res.Duplicates++
				continue
			}
			seen[e.EventID] = true
			fresh = append(fresh, storedEvent{ShopFloorEvent: e, at: e.OccurredAt.UTC().Truncate(time.Microsecond)})
		}
		if len(fields) > 0 {
			return ShopFloorIntakeResult{}, apperr.Fields(fields...)
		}
		inserted, err := insertEvents(ctx, tx, companyID, o.ID, fresh)
		if err != nil {
			return ShopFloorIntakeResult{}, err
		}
		res.Duplicates += len(fresh) - len(inserted)
		res.Accepted += len(inserted)
		if len(inserted) == 0 {
			continue
		}
		perOp := map[int][]storedEvent{}
		var ops []int
		first := inserted[0].at
		for _, e := range inserted {
			if _, ok := perOp[e.Operation]; !ok {
				ops = append(ops, e.Operation)
			}
			perOp[e.Operation] = append(perOp[e.Operation], e)
			if e.at.Before(first) {
				first = e.at
			}
		}
		sort.Ints(ops)
		for _, seq := range ops {
			op := &o.Operations[opIndex[seq]]
			news := perOp[seq]
			sortEvents(news)
			if op.LastEventAt != nil && before(news[0], *op.LastEventAt, op.LastEventID) {
				// A late event: fold the operation again from all its
				// events in time order.
				res.Late += countBefore(news, *op.LastEventAt, op.LastEventID)
				all, err := operationEvents(ctx, tx, o.ID, seq)
				if err != nil {
					return ShopFloorIntakeResult{}, err
				}
				op.reset()
				for _, e := range all {
					op.apply(e)
				}
			} else {
				for _, e := range news {
					op.apply(e)
				}
			}
		}
		started := false
		if o.Status == Released {
			o.start(first)
			started = true
		}
		o.refresh()
		if err := updateOrder(ctx, tx, &o); err != nil {
			return ShopFloorIntakeResult{}, err
		}
		if started {
			if err := record(ctx, tx, &o, "production_order.start", EventOrderStarted); err != nil {
				return ShopFloorIntakeResult{}, err
			}
		}
		for _, seq := range ops {
			p := OperationProgress{ProductionOrderID: o.ID, Status: o.Status, ProgressPercent: o.ProgressPercent, ActualLabour: o.Actual.Labour,
				Operation: o.Operations[opIndex[seq]]}
			if _, err := events.Record(ctx, tx, events.Event{Type: EventOrderProgressed, Subject: o.ID, CompanyID: companyID, Data: p}); err != nil {
				return ShopFloorIntakeResult{}, fmt.Errorf("progress event of %s: %w", o.ID, err)
			}
			res.Operations = append(res.Operations, p)
		}
		if err := audit.Record(ctx, tx, audit.Entry{Action: "production_order.shop_floor_events", ResourceType: SourceType, ResourceID: o.ID, CompanyID: companyID,
			Details: map[string]any{"events": len(inserted)}}); err != nil {
			return ShopFloorIntakeResult{}, err
		}
	}
	return res, nil
}

func sortEvents(es []storedEvent) {
	sort.Slice(es, func(i, j int) bool {
		if !es[i].at.Equal(es[j].at) {
			return es[i].at.Before(es[j].at)
		}
		return es[i].EventID < es[j].EventID
	})
}

// before reports whether e sorts before the event (at, id).
func before(e storedEvent, at time.Time, id string) bool {
	return e.at.Before(at) || (e.at.Equal(at) && e.EventID < id)
}

func countBefore(es []storedEvent, at time.Time, id string) int {
	n := 0
	for _, e := range es {
		if before(e, at, id) {
			n++
		}
	}
	return n
}

func (op *ProductionOrderOperation) reset() {
	*op = ProductionOrderOperation{Seq: op.Seq, Name: op.Name, WorkCenterID: op.WorkCenterID, HourlyRate: op.HourlyRate,
		PlannedMinutes: op.PlannedMinutes, PlannedCost: op.PlannedCost, Status: "pending"}
}

// apply folds one event, in time order, into the operation: running time
// runs from start or resume to pause or finish; a pause or finish while
// not running, or a start while running, changes no time.
func (op *ProductionOrderOperation) apply(e storedEvent) {
	t := e.at
	stop := func() {
		if op.RunningSince != nil {
			op.RunSeconds += t.Unix() - op.RunningSince.Unix()
			op.RunningSince = nil
		}
	}
	switch e.Type {
	case "start", "resume":
		if op.RunningSince == nil {
			op.RunningSince = &t
		}
		if op.StartedAt == nil {
			op.StartedAt = &t
		}
		op.Status, op.FinishedAt = "running", nil
	case "pause":
		stop()
		op.Status = "paused"
	case "finish":
		stop()
		op.Status, op.FinishedAt = "finished", &t
	case "good":
		op.GoodQuantity = op.GoodQuantity.Add(*e.Quantity).Normalize()
	case "scrap":
		op.ScrapQuantity = op.ScrapQuantity.Add(*e.Quantity).Normalize()
		if op.ScrapReasons == nil {
			op.ScrapReasons = map[string]money.Decimal{}
		}
		op.ScrapReasons[e.Reason] = op.ScrapReasons[e.Reason].Add(*e.Quantity).Normalize()
	case "downtime":
		op.DowntimeSeconds += e.DurationSeconds
		if op.DowntimeReasons == nil {
			op.DowntimeReasons = map[string]int64{}
		}
		op.DowntimeReasons[e.Reason] += e.DurationSeconds
	case "reading":
		op.Readings += len(e.Readings)
	}
	op.Events++
	op.LastEventAt, op.LastEventID = &t, e.EventID
}

// insertEvents stores events, skipping ids the order already has, and
// returns those it stored. PostgreSQL takes many rows per statement (one
// round trip per 200 events); SQLite, in process, runs one prepared
// single-row statement per event, since parsing a statement of thousands
// of parameters costs it more than executing small ones.
func insertEvents(ctx context.Context, tx *db.Tx, companyID, orderID string, evs []storedEvent) ([]storedEvent, error) {
	now := tx.Now()
	args := func(e storedEvent) ([]any, error) {
		q := money.Decimal{}
		if e.Quantity != nil {
			q = *e.Quantity
		}
		readings := ""
		if len(e.Readings) > 0 {
			b, err := json.Marshal(e.Readings)
			if err != nil {
				return nil, fmt.Errorf("encode readings: %w", err)
			}
			readings = string(b)
		}
		return []any{companyID, orderID, e.EventID, e.Operation, e.Type, e.at, money.Quantity(&q), e.Reason, e.DurationSeconds, readings, now}, nil
	}
	const insert = `INSERT INTO production_events (company_id, order_id, event_id, operation, event_type, occurred_at, quantity, reason,
duration_seconds, readings, received_at) VALUES `
	var out []storedEvent
	if tx.Engine() != db.Postgres {
		stmt, err := tx.PrepareContext(ctx, insert+"($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (order_id, event_id) DO NOTHING")
		if err != nil {
			return nil, fmt.Errorf("store shop-floor events of %s: %w", orderID, err)
		}
		defer stmt.Close()
		for _, e := range evs {
			a, err := args(e)
			if err != nil {
				return nil, err
			}
			res, err := stmt.ExecContext(ctx, a...)
			if err != nil {
				return nil, fmt.Errorf("store shop-floor event %s of %s: %w", e.EventID, orderID, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				out = append(out, e)
			}
		}
		return out, nil
	}
	const chunk = 200
	byID := make(map[string]storedEvent, len(evs))
	for _, e := range evs {
		byID[e.EventID] = e
	}
	for start := 0; start < len(evs); start += chunk {
		part := evs[start:min(start+chunk, len(evs))]
		var sb strings.Builder
		sb.WriteString(insert)
		all := make([]any, 0, len(part)*11)
		for i, e := range part {
			if i > 0 {
				sb.WriteString(", ")
			}
			n := len(all)
			fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11)
			a, err := args(e)
			if err != nil {
				return nil, err
			}
			all = append(all, a...)
		}
		sb.WriteString(" ON CONFLICT (order_id, event_id) DO NOTHING RETURNING event_id")
		rows, err := tx.QueryContext(ctx, sb.String(), all...)
		if err != nil {
			return nil, fmt.Errorf("store shop-floor events of %s: %w", orderID, err)
		}
		ids, err := db.Collect(rows, func(rows *sql.Rows) (string, error) {
			var s string
			return s, rows.Scan(&s)
		})
		if err != nil {
			return nil, fmt.Errorf("store shop-floor events of %s: %w", orderID, err)
		}
		for _, id := range ids {
			out = append(out, byID[id])
		}
	}
	return out, nil
}

// operationEvents reads every event of an operation in time order.
func operationEvents(ctx context.Context, q db.Querier, orderID string, seq int) ([]storedEvent, error) {
	rows, err := q.QueryContext(ctx, `SELECT event_id, event_type, occurred_at, quantity, reason, duration_seconds, readings FROM production_events
WHERE order_id = $1 AND operation = $2 ORDER BY occurred_at, event_id`, orderID, seq)
	if err != nil {
		return nil, fmt.Errorf("events of %s operation %d: %w", orderID, seq, err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (storedEvent, error) {
		var e storedEvent
		var q money.Decimal
		var readings string
		if err := rows.Scan(&e.EventID, &e.Type, &e.at, money.Quantity(&q), &e.Reason, &e.DurationSeconds, &readings); err != nil {
			return e, err
		}
		e.at = e.at.UTC()
		e.Operation, e.ProductionOrderID = seq, orderID
		if e.Type == "good" || e.Type == "scrap" {
			e.Quantity = &q
		}
		if readings != "" {
			if err := json.Unmarshal([]byte(readings), &e.Readings); err != nil {
				return e, err
			}
		}
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("events of %s operation %d: %w", orderID, seq, err)
	}
	return out, nil
}

// ReadingValue is one machine reading of an order.
type ReadingValue struct {
	Operation  int
	EventID    string
	OccurredAt time.Time
	Value      money.Decimal
}

// Readings returns an order's machine readings named name, in time order.
func Readings(ctx context.Context, q db.Querier, orderID, name string) ([]ReadingValue, error) {
	rows, err := q.QueryContext(ctx, `SELECT operation, event_id, occurred_at, readings FROM production_events
WHERE order_id = $1 AND event_type = 'reading' ORDER BY occurred_at, event_id`, orderID)
	if err != nil {
		return nil, fmt.Errorf("readings of %s: %w", orderID, err)
	}
	type raw struct {
		op       int
		id       string
		at       time.Time
		readings string
	}
	rs, err := db.Collect(rows, func(rows *sql.Rows) (raw, error) {
		var r raw
		return r, rows.Scan(&r.op, &r.id, &r.at, &r.readings)
	})
	if err != nil {
		return nil, fmt.Errorf("readings of %s: %w", orderID, err)
	}
	var out []ReadingValue
	for _, r := range rs {
		var vals []MachineReading
		if err := json.Unmarshal([]byte(r.readings), &vals); err != nil {
			return nil, fmt.Errorf("readings of %s: %w", orderID, err)
		}
		for _, v := range vals {
			if v.Name == name {
				out = append(out, ReadingValue{Operation: r.op, EventID: r.id, OccurredAt: r.at.UTC(), Value: v.Value})
			}
		}
	}
	return out, nil
}
