package app_test

import (
	"encoding/xml"
	"net/url"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// The financial reports over HTTP, in JSON and XML, with comparison
// columns, paging, and problems that name the parameter.
func TestReportsOverHTTP(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		bank, revenue, rent := accountByCode(t, w.admin, "1000"), accountByCode(t, w.admin, "4000"), accountByCode(t, w.admin, "6000")
		post := func(date, debit, credit, amount string) {
			w.admin.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": date, "lines": []any{
				map[string]any{"account_id": debit, "debit": amount}, map[string]any{"account_id": credit, "credit": amount}}}).Expect(t, 201)
		}
		post("2025-11-02", bank, revenue, "40.00")
		post("2026-03-01", bank, revenue, "100.00")
		post("2026-03-02", rent, bank, "30.00")
		post("2026-03-03", bank, revenue, "2.50")

		tb := w.admin.Do(t, "GET", "/v1/reports/trial-balance?from=2026-01-01&to=2026-12-31&compare_as_of=2025-12-31", nil).Expect(t, 200).JSON(t)
		var bankLine map[string]any
		for _, l := range tb["lines"].([]any) {
			if l.(map[string]any)["account_id"] == bank {
				bankLine = l.(map[string]any)
			}
		}
		if bankLine == nil || bankLine["code"] != "1000" || bankLine["type"] != "asset" || bankLine["opening_balance"] != "40.00" ||
			bankLine["period_debit"] != "102.50" || bankLine["balance"] != "112.50" || tb["as_of"] != "2026-12-31" {
			t.Fatalf("trial balance bank line %v", bankLine)
		}
		if cmp := bankLine["comparison"].(map[string]any); cmp["balance"] != "40.00" {
			t.Fatalf("comparison %v", cmp)
		}

		// XML: the same report, every amount a decimal string.
		raw := w.admin.Do(t, "GET", "/v1/reports/balance-sheet?as_of=2026-12-31&compare_as_of=2025-12-31", nil, "Accept", "application/xml").Expect(t, 200)
		if !strings.HasPrefix(raw.Header.Get("Content-Type"), "application/xml") {
			t.Fatalf("Content-Type %q", raw.Header.Get("Content-Type"))
		}
		var bs struct {
			XMLName     xml.Name `xml:"balance_sheet"`
			AsOf        string   `xml:"as_of"`
			Assets      string   `xml:"assets>total"`
			CmpAssets   string   `xml:"assets>comparison_total"`
			LiabAndEq   string   `xml:"liabilities_and_equity"`
			EquityLines []struct {
				Computed string `xml:"computed"`
				Amount   string `xml:"amount"`
			} `xml:"equity>lines>item"`
		}
		if err := xml.Unmarshal(raw.Body, &bs); err != nil {
			t.Fatalf("%v: %s", err, raw.Body)
		}
		if bs.AsOf != "2026-12-31" || bs.Assets != "112.50" || bs.LiabAndEq != "112.50" || bs.CmpAssets != "40.00" {
			t.Fatalf("balance sheet %+v: %s", bs, raw.Body)
		}
		if n := len(bs.EquityLines); n == 0 || bs.EquityLines[n-1].Computed != "unclosed_earnings" || bs.EquityLines[n-1].Amount != "112.50" {
			t.Fatalf("equity lines %+v", bs.EquityLines)
		}

		pl := w.admin.Do(t, "GET", "/v1/reports/profit-and-loss?to=2026-06-30&compare_to=2025-12-31", nil).Expect(t, 200).JSON(t)
		if pl["from"] != "2026-01-01" || pl["net_result"] != "72.50" || pl["comparison_net_result"] != "40.00" {
			t.Fatalf("profit and loss %v", pl)
		}

		// The general ledger, two lines a page, the running balance
		// carried across pages.
		q := url.Values{"account_id": {bank}, "from": {"2026-01-01"}, "page_size": {"2"}}
		page := w.admin.Do(t, "GET", "/v1/reports/general-ledger?"+q.Encode(), nil).Expect(t, 200).JSON(t)
		lines := page["lines"].([]any)
		if page["opening_balance"] != "40.00" || len(lines) != 2 || lines[1].(map[string]any)["balance"] != "110.00" || page["next_page_token"] == nil {
			t.Fatalf("first page %v", page)
		}
		q.Set("page_token", page["next_page_token"].(string))
		page = w.admin.Do(t, "GET", "/v1/reports/general-ledger?"+q.Encode(), nil).Expect(t, 200).JSON(t)
		lines = page["lines"].([]any)
		if len(lines) != 1 || lines[0].(map[string]any)["balance"] != "112.50" || page["next_page_token"] != nil {
			t.Fatalf("second page %v", page)
		}
		q.Set("from", "2025-01-01")
		p := w.admin.Do(t, "GET", "/v1/reports/general-ledger?"+q.Encode(), nil).ExpectProblem(t, 400, apperr.BadRequest)
		if !apitest.HasPointer(p, "query:page_token") {
			t.Fatalf("token for another period: %+v", p)
		}

		// Problems name the parameter: a malformed date is 400, a period
		// ending before it starts 422.
		for path, pointer := range map[string]string{
			"/v1/reports/trial-balance?as_of=2026-13-01":               "query:as_of",
			"/v1/reports/balance-sheet?compare_as_of=yesterday":        "query:compare_as_of",
			"/v1/reports/profit-and-loss?from=2026-02-30":              "query:from",
			"/v1/reports/trial-balance?as_of=2026-01-01&to=2026-01-02": "query:to",
		} {
			p := w.admin.Do(t, "GET", path, nil).ExpectProblem(t, 400, apperr.BadRequest)
			if !apitest.HasPointer(p, pointer) {
				t.Errorf("%s: %+v, want %s", path, p.Errors, pointer)
			}
		}
		for path, pointer := range map[string]string{
			"/v1/reports/trial-balance?from=2026-12-01&to=2026-01-01":                   "query:from",
			"/v1/reports/profit-and-loss?compare_from=2025-12-01&compare_to=2025-01-01": "query:compare_from",
			"/v1/reports/trial-balance?compare_from=2025-01-01":                         "query:compare_to",
			"/v1/reports/general-ledger":                                                "query:account_id",
			"/v1/reports/general-ledger?account_id=acct_nope":                           "query:account_id",
		} {
			p := w.admin.Do(t, "GET", path, nil).ExpectProblem(t, 422, apperr.Invalid)
			if !apitest.HasPointer(p, pointer) {
				t.Errorf("%s: %+v, want %s", path, p.Errors, pointer)
			}
		}
		// Another company's account is unknown here.
		foreign := accountByCode(t, newCompanyCaller(t, w), "1000")
		w.admin.Do(t, "GET", "/v1/reports/general-ledger?account_id="+foreign, nil).ExpectProblem(t, 422, apperr.Invalid)
	})
}
