package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

func TestMain(m *testing.M) {
	events.Declare(
		events.Type{Name: "mainstay.test.thing.created", Scope: "catalog:read", Description: "test", Data: events.Of[any]()},
		events.Type{Name: "mainstay.catalog.product.created", Scope: "catalog:read", Description: "test", Data: events.Of[map[string]string]()},
	)
	dbtest.Main(m)
}

// Events and audit rows commit with the business change or not at all, and
// read back in CloudEvents form with the request's actor and ID.
func TestWritersShareTheBusinessTransaction(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := reqctx.WithActor(reqctx.WithRequestID(context.Background(), "req_1"), "cli_sales")
		write := func(fail bool) error {
			return d.Transact(ctx, func(tx *db.Tx) error {
				if _, err := events.Record(ctx, tx, events.Event{
					Type: "mainstay.catalog.product.created", Subject: "prod_1", CompanyID: "co_1",
					Data: map[string]string{"id": "prod_1", "list_price": "12.50"},
				}); err != nil {
					return err
				}
				if err := audit.Record(ctx, tx, audit.Entry{Action: "product.create", ResourceType: "product",
					ResourceID: "prod_1", CompanyID: "co_1", Details: map[string]any{"fields": []string{"name"}}}); err != nil {
					return err
				}
				if fail {
					return errors.New("business rule failed")
				}
				return nil
			})
		}
		if err := write(true); err == nil {
			t.Fatal("failing transaction succeeded")
		}
		if err := write(false); err != nil {
			t.Fatal(err)
		}
		for _, tbl := range sequencer.Tables {
			if _, err := sequencer.Assign(ctx, d, tbl); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := events.After(ctx, d, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("%d events, want 1: the rolled-back one must not exist", len(evs))
		}
		e := evs[0]
		raw, _ := json.Marshal(e)
		var ce map[string]any
		_ = json.Unmarshal(raw, &ce)
		for _, k := range []string{"specversion", "id", "source", "type", "subject", "time", "data"} {
			if _, ok := ce[k]; !ok {
				t.Errorf("CloudEvent lacks %q: %s", k, raw)
			}
		}
		if ce["specversion"] != "1.0" || e.Type != "mainstay.catalog.product.created" || e.Seq != 1 ||
			string(e.Data) != `{"id":"prod_1","list_price":"12.50"}` {
			t.Fatalf("event = %s", raw)
		}
		entries, err := audit.After(ctx, d, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Fatalf("%d audit rows, want 1", len(entries))
		}
		a := entries[0]
		if a.Actor != "cli_sales" || a.RequestID != "req_1" || a.Outcome != audit.Success || a.ResourceID != "prod_1" || a.Seq != 1 {
			t.Fatalf("audit row = %+v", a)
		}
	})
}

func TestEventTypeMustFollowTheNaming(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	ctx := context.Background()
	for _, bad := range []string{"", "product.created", "mainstay.product", "acme.catalog.product.created"} {
		err := d.Transact(ctx, func(tx *db.Tx) error {
			_, err := events.Record(ctx, tx, events.Event{Type: bad})
			return err
		})
		if err == nil {
			t.Errorf("type %q accepted", bad)
		}
	}
}

func BenchmarkRecordEvent(b *testing.B) {
	for _, e := range dbtest.Engines {
		b.Run(string(e), func(b *testing.B) {
			d := dbtest.Open(b, e)
			ctx := context.Background()
			for b.Loop() {
				err := d.Transact(ctx, func(tx *db.Tx) error {
					_, err := events.Record(ctx, tx, events.Event{Type: "mainstay.test.thing.created", Data: map[string]int{"n": 1}})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
