package chart_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/ledger/chart"
	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func anyETag(string) error { return nil }

// chartOf starts a server and returns a context allowed everywhere, the
// accounts service and a new company (with the template chart).
func chartOf(t *testing.T, s *apitest.Server) (context.Context, *chart.Accounts, string) {
	t.Helper()
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{ClientID: "test", Scopes: auth.AllScopes()})
	svc := s.App.Services()
	co, err := svc.Companies.Create(ctx, "", map[string]any{"legal_name": "Chart GmbH", "base_currency": "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, svc.Accounts, co.Value.ID
}

func wantPointer(t *testing.T, err error, code apperr.Code, pointer string) {
	t.Helper()
	if apperr.CodeOf(err) != code {
		t.Fatalf("got %v, want %s", err, code)
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("not an apperr: %v", err)
	}
	for _, f := range ae.Fields {
		if f.Pointer == pointer {
			return
		}
	}
	t.Fatalf("no error at %s: %+v", pointer, ae.Fields)
}

func create(t *testing.T, ctx context.Context, accts *chart.Accounts, co string, body map[string]any) string {
	t.Helper()
	v, err := accts.Create(ctx, co, body)
	if err != nil {
		t.Fatalf("create %v: %v", body, err)
	}
	return v.Value.ID
}

func TestHierarchyKeepsTypesAndRefusesCycles(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx, accts, co := chartOf(t, apitest.Start(t, e))
			top := create(t, ctx, accts, co, map[string]any{"code": "4100", "name": "Sales", "type": chart.Income})
			mid := create(t, ctx, accts, co, map[string]any{"code": "4110", "name": "Sales EU", "type": chart.Income, "parent_id": top})
			leaf := create(t, ctx, accts, co, map[string]any{"code": "4111", "name": "Sales DE", "type": chart.Income, "parent_id": mid})

			// A parent of another type.
			_, err := accts.Create(ctx, co, map[string]any{"code": "5200", "name": "Freight", "type": chart.Expense, "parent_id": top})
			wantPointer(t, err, apperr.Invalid, "/parent_id")
			_, err = accts.Patch(ctx, leaf, map[string]any{"type": chart.Expense}, anyETag)
			wantPointer(t, err, apperr.Invalid, "/parent_id")

			// Cycles, direct and through a chain, and into itself.
			_, err = accts.Patch(ctx, mid, map[string]any{"parent_id": leaf}, anyETag)
			wantPointer(t, err, apperr.Invalid, "/parent_id")
			_, err = accts.Patch(ctx, top, map[string]any{"parent_id": leaf}, anyETag)
			wantPointer(t, err, apperr.Invalid, "/parent_id")
			_, err = accts.Patch(ctx, top, map[string]any{"parent_id": top}, anyETag)
			wantPointer(t, err, apperr.Invalid, "/parent_id")

			// A summary with children cannot change type under them.
			_, err = accts.Patch(ctx, top, map[string]any{"type": chart.Expense}, anyETag)
			wantPointer(t, err, apperr.Invalid, "/type")

			// Re-parenting within the tree without a cycle is fine, and so is
			// retyping a moved-out leaf.
			if _, err := accts.Patch(ctx, leaf, map[string]any{"parent_id": top}, anyETag); err != nil {
				t.Fatalf("move leaf under top: %v", err)
			}
			if _, err := accts.Patch(ctx, leaf, map[string]any{"parent_id": nil, "type": chart.Expense}, anyETag); err != nil {
				t.Fatalf("detach and retype leaf: %v", err)
			}

			// A role needs an account of its type.
			_, err = accts.Create(ctx, co, map[string]any{"code": "1999", "name": "Odd", "type": chart.Asset, "role": "fx_loss"})
			wantPointer(t, err, apperr.Invalid, "/role")
		})
	}
}

// Two writers closing a cycle between them at the same moment: at most one
// may win, whatever the interleaving (on PostgreSQL, the ancestors' share
// locks make them deadlock and the retry sees the winner).
func TestConcurrentReparentingCannotFormACycle(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx, accts, co := chartOf(t, apitest.Start(t, e))
			for round := 0; round < 3; round++ {
				a := create(t, ctx, accts, co, map[string]any{"code": "A" + string(rune('0'+round)), "name": "A", "type": chart.Asset})
				b := create(t, ctx, accts, co, map[string]any{"code": "B" + string(rune('0'+round)), "name": "B", "type": chart.Asset})
				start := make(chan struct{})
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i, pair := range [][2]string{{a, b}, {b, a}} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						_, errs[i] = accts.Patch(ctx, pair[0], map[string]any{"parent_id": pair[1]}, anyETag)
					}()
				}
				close(start)
				wg.Wait()
				won := 0
				for _, err := range errs {
					switch {
					case err == nil:
						won++
					case apperr.CodeOf(err) != apperr.Invalid:
						t.Fatalf("round %d: unexpected error %v", round, err)
					}
				}
				if won != 1 {
					t.Fatalf("round %d: %d of two cycle-closing writes succeeded (%v)", round, won, errs)
				}
			}
		})
	}
}
