package auditapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/audit/auditapi"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/clock"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

func TestMain(m *testing.M) {
	if err := audit.Configure(bytes.Repeat([]byte{1}, audit.MasterKeySize)); err != nil {
		panic(err)
	}
	dbtest.Main(m)
}

// principals the test server knows, by the X-Test-Client header.
var principals = map[string]auth.Principal{
	"auditor":    {ClientID: "cli_auditor", Scopes: []string{auth.AuditRead}},
	"co1auditor": {ClientID: "cli_co1", Scopes: []string{auth.AuditRead}, Companies: []string{"co_1"}},
	"clerk":      {ClientID: "cli_clerk", Scopes: []string{"catalog:read"}},
}

type server struct {
	t   *testing.T
	url string
}

func start(t *testing.T, d *db.DB) *server {
	api := rest.NewAPI("test", "1", "http://localhost")
	auditapi.Mount(api, d)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principals[r.Header.Get("X-Test-Client")]
		api.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &server{t, srv.URL}
}

func (s *server) get(client, path string, header ...string) (int, http.Header, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	req.Header.Set("X-Test-Client", client)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return res.StatusCode, res.Header, b.Bytes()
}

func (s *server) list(client, query string) (auditapi.AuditEventList, int, apperr.Problem) {
	s.t.Helper()
	status, _, body := s.get(client, "/v1/audit-events?"+query)
	var out auditapi.AuditEventList
	var p apperr.Problem
	if status == http.StatusOK {
		if err := json.Unmarshal(body, &out); err != nil {
			s.t.Fatalf("%s: %v", body, err)
		}
	} else {
		_ = json.Unmarshal(body, &p)
	}
	return out, status, p
}

// seed writes, a minute apart from 09:00: three product updates by
// cli_a in co_1, a denied delete by cli_b in co_2, and a token issue by
// cli_a with no company; then numbers them.
func seed(t *testing.T, d *db.DB, clk *clock.Manual) {
	write := func(actor string, e audit.Entry) {
		ctx := reqctx.WithClient(reqctx.WithActor(context.Background(), actor), "192.0.2.5", "agent/5")
		if err := d.Transact(ctx, func(tx *db.Tx) error { return audit.Record(ctx, tx, e) }); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
	}
	for i := range 3 {
		write("cli_a", audit.Entry{Action: "product.update", ResourceType: "product", ResourceID: fmt.Sprintf("prod_%d", i),
			CompanyID: "co_1", Details: map[string]any{"fields": []string{"name"}}})
	}
	write("cli_b", audit.Entry{Action: "http.DELETE", ResourceType: "/v1/products/{id}", ResourceID: "prod_9",
		CompanyID: "co_2", Outcome: audit.Denied})
	write("cli_a", audit.Entry{Action: "token.issue", ResourceType: "token"})
	if _, err := sequencer.Assign(context.Background(), d, audit.Topic); err != nil {
		t.Fatal(err)
	}
}

func seqs(l auditapi.AuditEventList) string {
	var s []string
	for _, e := range l.Data {
		s = append(s, fmt.Sprint(e.Seq))
	}
	return strings.Join(s, ",")
}

func TestListAuditEvents(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			clk := clock.NewManual(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
			u := dbtest.SQLiteURL(t, true)
			if e == db.Postgres {
				u = dbtest.PostgresURL(t, true)
			}
			d, err := db.Open(context.Background(), db.Options{URL: u, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			seed(t, d, clk)
			s := start(t, d)

			all, status, _ := s.list("auditor", "")
			if status != 200 || seqs(all) != "1,2,3,4,5" || all.NextPageToken != "" {
				t.Fatalf("list = %d %s", status, seqs(all))
			}
			first := all.Data[0]
			if first.ID == "" || first.Actor != "cli_a" || first.IP != "192.0.2.5" || first.UserAgent != "agent/5" ||
				first.CompanyID != "co_1" || first.Outcome != "success" || len(first.Hash) != 64 ||
				!first.OccurredAt.Equal(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)) {
				t.Fatalf("first event %+v", first)
			}

			for q, want := range map[string]string{
				"actor=cli_a": "1,2,3,5",
				"resource_type=product&resource_id=prod_1":          "2",
				"action=token.issue":                                "5",
				"outcome=denied":                                    "4",
				"company_id=co_2":                                   "4",
				"from=2025-03-01T09:01:00Z&to=2025-03-01T09:03:00Z": "2,3",
				"from=2025-03-01T10:00:00%2B01:00":                  "1,2,3,4,5",
				"actor=nobody":                                      "",
			} {
				got, status, p := s.list("auditor", q)
				if status != 200 || seqs(got) != want {
					t.Errorf("?%s = %d %q %+v, want %q", q, status, seqs(got), p, want)
				}
			}

			// Pages of two, stable, and bound to their filter and client.
			var pages []string
			token := ""
			for {
				page, status, p := s.list("auditor", "actor=cli_a&page_size=2&page_token="+url.QueryEscape(token))
				if status != 200 {
					t.Fatalf("page %d: %d %+v", len(pages), status, p)
				}
				pages = append(pages, seqs(page))
				if token = page.NextPageToken; token == "" {
					break
				}
				if len(pages) == 1 {
					if _, status, p := s.list("auditor", "actor=cli_b&page_size=2&page_token="+url.QueryEscape(token)); status != 400 || p.Errors[0].Pointer != "query:page_token" {
						t.Fatalf("token with another filter: %d %+v", status, p)
					}
				}
			}
			if fmt.Sprint(pages) != "[1,2 3,5]" {
				t.Fatalf("pages %v", pages)
			}

			// A client limited to co_1 sees only co_1's rows, never platform
			// rows, and another company reads as unknown.
			if got, status, _ := s.list("co1auditor", ""); status != 200 || seqs(got) != "1,2,3" {
				t.Fatalf("co_1 auditor sees %d %s", status, seqs(got))
			}
			if _, status, p := s.list("co1auditor", "company_id=co_2"); status != 422 || p.Errors[0].Pointer != "query:company_id" {
				t.Fatalf("co_1 auditor asking for co_2: %d %+v", status, p)
			}

			for q, pointer := range map[string]string{
				"from=yesterday":          "query:from",
				"to=2025-13-01T00:00:00Z": "query:to",
				"from=2025-03-01T10:00:00Z&to=2025-03-01T09:00:00Z": "query:to",
				"outcome=maybe":   "query:outcome",
				"page_size=-1":    "query:page_size",
				"page_token=junk": "query:page_token",
			} {
				if _, status, p := s.list("auditor", q); status != 400 || len(p.Errors) != 1 || p.Errors[0].Pointer != pointer {
					t.Errorf("?%s = %d %+v, want 400 at %s", q, status, p, pointer)
				}
			}
			if _, status, _ := s.list("clerk", ""); status != 403 {
				t.Fatalf("without audit:read: %d, want 403", status)
			}

			if status, h, body := s.get("auditor", "/v1/audit-events?action=token.issue", "Accept", "application/xml"); status != 200 ||
				!strings.HasPrefix(h.Get("Content-Type"), "application/xml") || !bytes.Contains(body, []byte("<seq>5</seq>")) {
				t.Fatalf("XML list: %d %s %s", status, h.Get("Content-Type"), body)
			}

			// The export: the same rows as JSON lines, filters applied.
			status, h, body := s.get("auditor", "/v1/audit-events/export?actor=cli_a")
			if status != 200 || h.Get("Content-Type") != auditapi.NDJSON {
				t.Fatalf("export = %d %s: %s", status, h.Get("Content-Type"), body)
			}
			var lines []string
			sc := bufio.NewScanner(bytes.NewReader(body))
			for sc.Scan() {
				var ev auditapi.AuditEvent
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatalf("line %q: %v", sc.Text(), err)
				}
				lines = append(lines, fmt.Sprint(ev.Seq))
			}
			if strings.Join(lines, ",") != "1,2,3,5" {
				t.Fatalf("export lines %v", lines)
			}
			if status, _, body := s.get("co1auditor", "/v1/audit-events/export?company_id=co_2"); status != 422 {
				t.Fatalf("export of another company: %d %s", status, body)
			}
			if status, h, body := s.get("auditor", "/v1/audit-events/export?actor=nobody"); status != 200 || len(body) != 0 || h.Get("Content-Type") != auditapi.NDJSON {
				t.Fatalf("empty export: %d %q", status, body)
			}
		})
	}
}

// The spec documents the routes with their scope.
func TestDocumented(t *testing.T) {
	api := rest.NewAPI("test", "1", "http://localhost")
	auditapi.Mount(api, nil)
	spec, err := api.Spec()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"listAuditEvents"`, `"exportAuditEvents"`, `"audit:read"`, `"AuditEvent"`, `"personal_data_erased"`} {
		if !bytes.Contains(spec, []byte(want)) {
			t.Errorf("spec lacks %s", want)
		}
	}
}
