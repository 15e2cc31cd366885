package auth

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
)

func TestPrincipal(t *testing.T) {
	one := Principal{ClientID: "cli_a", Scopes: []string{"sales:read"}, Companies: []string{"co_1"}}
	all := Principal{ClientID: "cli_b", Scopes: []string{"sales:read", "sales:write"}}
	var zero Principal
	switch {
	case !one.Has("sales:read") || one.Has("sales:write"):
		t.Fatal("Has")
	case one.AllCompanies() || !one.CanAccessCompany("co_1") || one.CanAccessCompany("co_2") || one.CanAccessCompany(""):
		t.Fatal("company-limited principal")
	case !all.AllCompanies() || !all.CanAccessCompany("co_2"):
		t.Fatal("all-companies principal")
	case zero.AllCompanies() || zero.CanAccessCompany("co_1") || zero.Has(""):
		t.Fatal("the zero principal must have nothing")
	}

	ctx := context.Background()
	if _, ok := FromContext(ctx); ok {
		t.Fatal("principal in an empty context")
	}
	wantCode(t, Require(ctx, "sales:read"), apperr.Unauthenticated)
	ctx = WithPrincipal(ctx, one)
	if p, ok := FromContext(ctx); !ok || p.ClientID != "cli_a" {
		t.Fatalf("FromContext = %+v, %v", p, ok)
	}
	if err := Require(ctx, "sales:read"); err != nil {
		t.Fatal(err)
	}
	err := Require(ctx, "catalog:write")
	wantCode(t, err, apperr.Forbidden)
	if msg := apperr.As(err).Message; msg != `This operation needs the scope "catalog:write".` {
		t.Fatalf("message %q", msg)
	}

	w := httptest.NewRecorder()
	InsufficientScope(w, "catalog:write")
	if got := w.Header().Get("WWW-Authenticate"); got != `Bearer error="insufficient_scope", scope="catalog:write"` {
		t.Fatalf("challenge %q", got)
	}
	w = httptest.NewRecorder()
	InsufficientScope(w, "a\"b\r\nX: y")
	if got := w.Header().Get("WWW-Authenticate"); got != `Bearer error="insufficient_scope", scope="abX: y"` {
		t.Fatalf("challenge not sanitised: %q", got)
	}
}
