package app_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

var update = flag.Bool("update", false, "rewrite api/openapi.json from the code")

const specFile = "../../api/openapi.json"

// The committed spec is what the code generates: a change to the API shows
// in review as a change to api/openapi.json (regenerate with
// go test ./internal/app -run OpenAPI -update), and CI's breaking-change
// check compares it with every earlier version.
func TestOpenAPIMatchesCommittedSpec(t *testing.T) {
	s := apitest.Start(t, db.SQLite)
	got := s.App.Spec()
	if *update {
		if err := os.WriteFile(specFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatalf("%v (generate it with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("api/openapi.json is stale: run go test ./internal/app -run OpenAPI -update and commit it")
	}
	// The server serves the same document.
	resp := s.Get(t, "/v1/openapi.json")
	served, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(served, got) || resp.Header.Get("ETag") == "" {
		t.Fatalf("served spec differs (%d)", resp.StatusCode)
	}
}

func TestOpenAPIDocumentsScopesAndErrors(t *testing.T) {
	s := apitest.Start(t, db.SQLite)
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			OperationID string                `json:"operationId"`
			Security    []map[string][]string `json:"security"`
			Responses   map[string]any        `json:"responses"`
		} `json:"paths"`
		Components struct {
			SecuritySchemes map[string]any `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(s.App.Spec(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Components.SecuritySchemes["oauth2"] == nil {
		t.Fatalf("openapi %q, schemes %v", doc.OpenAPI, doc.Components.SecuritySchemes)
	}
	ids := map[string]bool{}
	for path, item := range doc.Paths {
		for method, op := range item {
			where := strings.ToUpper(method) + " " + path
			if op.OperationID == "" || ids[op.OperationID] {
				t.Errorf("%s: missing or duplicate operationId %q", where, op.OperationID)
			}
			ids[op.OperationID] = true
			// Every operation needs a token; those that check scopes per
			// item (batch, the event feed by event type) or per owner
			// (operations) name none.
			anyToken := path == "/v1/operations/{id}" || path == "/v1/batch" || path == "/v1/rate-limits" || strings.HasPrefix(path, "/v1/events")
			if path == "/v1/inbound/{id}" {
				// Outside systems sign their notifications instead.
				if len(op.Security) != 0 {
					t.Errorf("%s is public but documents security %v", where, op.Security)
				}
			} else if len(op.Security) != 1 || op.Security[0]["oauth2"] == nil || (len(op.Security[0]["oauth2"]) == 1) == anyToken {
				t.Errorf("%s security %v", where, op.Security)
			}
			for _, code := range []string{"401", "403", "500"} {
				if op.Responses[code] == nil {
					t.Errorf("%s does not document %s", where, code)
				}
			}
		}
	}
	for _, p := range []string{"/v1/products", "/v1/products/{id}", "/v1/products/external/{external_id}", "/v1/companies",
		"/v1/customers", "/v1/suppliers", "/v1/units-of-measure", "/v1/payment-terms", "/v1/tax-categories", "/v1/batch", "/v1/operations/{id}"} {
		if doc.Paths[p] == nil {
			t.Errorf("spec lacks %s", p)
		}
	}
}

func TestExplorerIsServedFromTheBinary(t *testing.T) {
	s := apitest.Start(t, db.SQLite)
	resp := s.Get(t, "/docs")
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(page), "/v1/openapi.json") {
		t.Fatalf("/docs = %d: %.300s", resp.StatusCode, page)
	}
	if host := regexp.MustCompile(`https?://[A-Za-z0-9]`).FindString(string(page)); host != "" {
		t.Fatalf("the explorer page refers to another host: %s", host)
	}
}
