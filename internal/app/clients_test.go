package app_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

func TestClientsAPI(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		created := w.admin.Do(t, "POST", "/v1/clients", map[string]any{"name": "storefront", "roles": []string{"sales"}, "companies": []string{w.company}}).
			Expect(t, 201).JSON(t)
		id, secret := created["id"].(string), created["client_secret"].(string)
		if !strings.HasPrefix(id, "cli_") || !strings.HasPrefix(secret, "mss_") {
			t.Fatalf("created %v", created)
		}
		// The new client works, with its role's scopes.
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
		tok := w.s.Anonymous(t, "POST", "/oauth2/token", form.Encode(), "Content-Type", "application/x-www-form-urlencoded").Expect(t, 200).JSON(t)
		bearer := "Bearer " + tok["access_token"].(string)
		w.s.Anonymous(t, "GET", "/v1/products", nil, "Authorization", bearer).Expect(t, 200)
		w.s.Anonymous(t, "GET", "/v1/clients", nil, "Authorization", bearer).ExpectProblem(t, 403, apperr.Forbidden)

		list := w.admin.Do(t, "GET", "/v1/clients", nil).Expect(t, 200)
		if strings.Contains(string(list.Body), secret) || !strings.Contains(string(list.Body), id) {
			t.Fatal("the list shows a secret or misses the client")
		}
		w.admin.Do(t, "GET", "/v1/clients/"+id, nil).Expect(t, 200)
		w.admin.Do(t, "GET", "/v1/clients/cli_nope", nil).ExpectProblem(t, 404, apperr.NotFound)
		w.admin.Do(t, "POST", "/v1/clients", map[string]any{"name": "x", "roles": []string{"wizard"}}).ExpectProblem(t, 422, apperr.Invalid)
		p := w.admin.Do(t, "POST", "/v1/clients", map[string]any{"name": "x", "roles": []string{"sales"}, "companies": []string{"co_nope"}}).ExpectProblem(t, 422, apperr.Invalid)
		if p.Errors[0].Pointer != "/companies/0" {
			t.Fatalf("unknown company pointer %+v", p.Errors)
		}
		w.admin.Do(t, "DELETE", "/v1/clients/"+id, nil).Expect(t, 204)
		w.s.Anonymous(t, "GET", "/v1/products", nil, "Authorization", bearer).ExpectProblem(t, 401, apperr.Unauthenticated)
	})
}
