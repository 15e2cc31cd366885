package app_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

func TestDataSubjectExportAndErasure(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		cus := w.admin.Do(t, "POST", "/v1/customers", map[string]any{"name": "Anna Muster", "currency": "EUR", "tax_id": "DE777",
			"emails": []any{"anna@example.com"}, "billing_address": map[string]any{"line1": "Weg 1", "city": "Linz", "country": "AT"}}).Expect(t, 201).JSON(t)
		id := cus["id"].(string)
		export := w.admin.Do(t, "GET", "/v1/data-subjects/customer/"+id+"/export", nil).Expect(t, 200)
		for _, want := range []string{"Anna Muster", "DE777", "anna@example.com", `"action":"customer.create"`} {
			if !strings.Contains(string(export.Body), want) {
				t.Errorf("export lacks %s: %s", want, export.Body)
			}
		}
		sales := w.s.As(t, []string{"sales"}, w.company)
		sales.Do(t, "POST", "/v1/data-subjects/customer/"+id+"/erase", nil).ExpectProblem(t, 403, apperr.Forbidden)
		stranger := newCompanyCaller(t, w)
		stranger.Do(t, "GET", "/v1/data-subjects/customer/"+id+"/export", nil).ExpectProblem(t, 404, apperr.NotFound)

		// A legal hold refuses erasure with its reason.
		held := true
		w.s.App.Services().Customers.AddHold(func(ctx context.Context, q db.Querier, rid string) (string, error) {
			if held && rid == id {
				return "an open invoice refers to this customer", nil
			}
			return "", nil
		})
		p := w.admin.Do(t, "POST", "/v1/data-subjects/customer/"+id+"/erase", nil).ExpectProblem(t, 409, apperr.Conflict)
		if !strings.Contains(p.Detail, "open invoice") {
			t.Fatalf("hold reason missing: %s", p.Detail)
		}
		held = false
		erased := w.admin.Do(t, "POST", "/v1/data-subjects/customer/"+id+"/erase", nil).Expect(t, 200)
		after := w.admin.Do(t, "GET", "/v1/customers/"+id, nil).Expect(t, 200)
		for _, gone := range []string{"Anna", "DE777", "anna@example.com", "Linz"} {
			if strings.Contains(string(after.Body), gone) || strings.Contains(string(erased.Body), gone) {
				t.Fatalf("%s survived erasure: %s", gone, after.Body)
			}
		}
		// Personal data cannot be stored for it again.
		etag := after.Header.Get("ETag")
		w.admin.Do(t, "PATCH", "/v1/customers/"+id, `{"tax_id":"DE1"}`, "Content-Type", "application/merge-patch+json", "If-Match", etag).
			ExpectProblem(t, 409, apperr.Conflict)
		// The record and its history stay.
		if !strings.Contains(string(after.Body), id) {
			t.Fatal("the record is gone")
		}
		var keys int
		if err := w.s.App.DB().QueryRowContext(context.Background(), "SELECT COUNT(*) FROM data_keys WHERE owner = $1 AND destroyed_at IS NULL", id).Scan(&keys); err != nil {
			t.Fatal(err)
		}
		if keys != 0 {
			t.Fatalf("%d live data keys after erasure", keys)
		}
		var actions []string
		rows, _ := w.s.App.DB().QueryContext(context.Background(), "SELECT action FROM audit_log WHERE resource_id = $1 ORDER BY id", id)
		for rows.Next() {
			var a string
			rows.Scan(&a)
			actions = append(actions, a)
		}
		rows.Close()
		if j := strings.Join(actions, ","); !strings.Contains(j, "customer.export") || !strings.Contains(j, "customer.erase") {
			t.Fatalf("audit actions %s", j)
		}
		// The audit chain still verifies after the erasure.
		for _, tbl := range sequencer.Tables {
			if _, err := sequencer.Assign(context.Background(), w.s.App.DB(), tbl); err != nil {
				t.Fatal(err)
			}
		}
		master, _ := base64.StdEncoding.DecodeString(apitest.TestMasterKey)
		rep, err := audit.Verify(context.Background(), w.s.App.DB(), master)
		if err != nil || !rep.OK() || rep.Rows == 0 {
			t.Fatalf("audit chain after erasure: %v %s", err, rep.String())
		}
	})
}

// With a retention set, the server prunes the audit log and the rest still
// verifies.
func TestAuditRetention(t *testing.T) {
	cfg := apitest.Config(t)
	s := apitest.StartConfig(t, cfg)
	w := setupWorld(t, s)
	for i := range 5 {
		w.product(t, "RET-"+string(rune('A'+i)), "1.00")
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	cfg.AuditRetention = time.Millisecond
	restart := time.Now().UTC()
	s2 := apitest.StartConfig(t, cfg)
	d := s2.App.DB()
	master, _ := base64.StdEncoding.DecodeString(apitest.TestMasterKey)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Rows from before the restart are gone, but for the last one,
		// which pruning always keeps so positions never restart.
		var n int
		_ = d.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM audit_log WHERE occurred_at < $1", restart).Scan(&n)
		if n <= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d audit rows left after the retention ran", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rep, err := audit.Verify(context.Background(), d, master)
	if err != nil || !rep.OK() {
		t.Fatalf("after pruning: %v %s", err, rep.String())
	}
}
