// Package ledgerapi exposes the journal over the API: posting and reading
// journal entries, reversing them, and the trial balance.
package ledgerapi

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// EntryRequest posts a journal entry, or saves a draft.
type EntryRequest struct {
	CompanyID string        `json:"company_id,omitempty" doc:"Required when the client works in more than one company."`
	Status    string        `json:"status,omitempty" enum:"draft,posted" doc:"posted (the default) posts at once; draft saves the entry unnumbered and editable, to post later with postJournalEntryDraft."`
	Date      string        `json:"date" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"The posting date, YYYY-MM-DD, in the company's time zone."`
	Memo      string        `json:"memo,omitempty" maxLength:"500"`
	Lines     []LineRequest `json:"lines" minItems:"2" maxItems:"1000"`
}

// LineRequest is one line: a debit or a credit, in the line's currency.
type LineRequest struct {
	AccountID string          `json:"account_id"`
	Debit     *money.Decimal  `json:"debit,omitempty"`
	Credit    *money.Decimal  `json:"credit,omitempty"`
	Currency  money.Currency  `json:"currency,omitempty" doc:"The line's transaction currency; default the company currency. A foreign-currency line is converted at the exchange rate of the entry's date (the latest on or before it), or at rate."`
	Rate      *money.Decimal  `json:"rate,omitempty" doc:"Company-currency units per unit of currency, instead of the day's rate (a bank's actual rate)."`
	Settles   *ledger.LineRef `json:"settles,omitempty" doc:"A foreign-currency line of an earlier entry (same account and currency, other side) this line pays off: it is valued at that line's carrying value and the difference to the day's value is posted as realized exchange gain or loss."`
	Memo      string          `json:"memo,omitempty" maxLength:"500"`
}

// ReverseRequest reverses a posted entry.
type ReverseRequest struct {
	Date string `json:"date" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"The reversal's posting date."`
}

var errDryRun = errors.New("dry run")

// Mount adds the journal routes.
func Mount(api *rest.API, d *db.DB) {
	read, write := auth.Scope("ledger", auth.Read), auth.Scope("ledger", auth.Write)
	idParam := []rest.Param{{Name: "id", In: "path"}}
	api.Handle(rest.Operation{
		ID: "postJournalEntry", Method: http.MethodPost, Path: "/v1/journal-entries", Tag: "Journal", Scope: write, XML: true, Idempotent: true,
		Summary:     "Post a journal entry",
		Description: "Debits must equal credits exactly, in the company currency; each line names an active account of the company. Posted entries are immutable: correct them by reversal. dry_run=true returns the entry that would be posted without writing it.",
		Params:      []rest.Param{{Name: "dry_run", In: "query"}},
		Request:     reflect.TypeOf(EntryRequest{}), Response: reflect.TypeOf(ledger.Entry{}), Status: http.StatusCreated, Errors: []int{409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in EntryRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		company, err := rest.Company(r.Context(), in.CompanyID, "/company_id")
		if err != nil {
			return err
		}
		dry := r.URL.Query().Get("dry_run") == "true"
		var out ledger.Entry
		err = d.Transact(r.Context(), func(tx *db.Tx) error {
			p, err := posting(r.Context(), tx, company, in)
			if err != nil {
				return err
			}
			if in.Status == ledger.StatusDraft {
				out, err = ledger.CreateDraft(r.Context(), tx, p)
			} else {
				out, err = ledger.Post(r.Context(), tx, p)
			}
			if err == nil && dry {
				return errDryRun
			}
			return err
		})
		if dry && errors.Is(err, errDryRun) {
			return rest.Respond(w, r, http.StatusOK, out)
		}
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/journal-entries/"+out.ID)
		return rest.Respond(w, r, http.StatusCreated, out)
	})
	api.Handle(rest.Operation{
		ID: "listJournalEntries", Method: http.MethodGet, Path: "/v1/journal-entries", Tag: "Journal", Scope: read, XML: true,
		Summary:     "List journal entries",
		Description: "A company's journal entries with their lines, by date then id (order_by: date, created_at, each optionally desc). filter (AIP-160) over " + filterNames() + "; account_id keeps entries with a line on that account.",
		Params: []rest.Param{
			{Name: "company_id", In: "query"}, {Name: "filter", In: "query", Description: `e.g. status = "posted" AND date >= "2026-01-01"`},
			{Name: "order_by", In: "query"}, {Name: "account_id", In: "query"},
			{Name: "page_size", In: "query", Description: "1 to 500; default 50."}, {Name: "page_token", In: "query"},
		},
		Response: reflect.TypeOf(ledger.Page{}), Errors: []int{400},
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		size, err := query.ParsePageSize(q.Get("page_size"))
		if err != nil {
			return err
		}
		p, _ := auth.FromContext(r.Context())
		page, err := ledger.List(r.Context(), d.Reader(r.Context()), ledger.ListParams{
			CompanyID: company, Filter: q.Get("filter"), OrderBy: q.Get("order_by"), AccountID: q.Get("account_id"),
			PageToken: q.Get("page_token"), PageSize: size, TokenKey: audit.PageTokenKey(), ClientID: p.ClientID,
		})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, page)
	})
	api.Handle(rest.Operation{
		ID: "postJournalEntryDraft", Method: http.MethodPost, Path: "/v1/journal-entries/{id}/post", Tag: "Journal", Scope: write, XML: true, Idempotent: true,
		Summary:     "Post a draft journal entry",
		Description: "Posts a draft with the checks of postJournalEntry (balance, open period, non-negative accounts); it takes the company's next number and becomes immutable.",
		Params:      idParam, Response: reflect.TypeOf(ledger.Entry{}), Errors: []int{404, 409, 422},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var out ledger.Entry
		err := d.Transact(r.Context(), func(tx *db.Tx) error {
			e, err := visibleEntry(r.Context(), tx, r.PathValue("id"))
			if err != nil {
				return err
			}
			for i, l := range e.Lines {
				if err := checkAccount(r.Context(), tx, e.CompanyID, l.AccountID, i); err != nil {
					return err
				}
			}
			out, err = ledger.PostDraft(r.Context(), tx, e.ID)
			return err
		})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "deleteJournalEntryDraft", Method: http.MethodDelete, Path: "/v1/journal-entries/{id}", Tag: "Journal", Scope: write,
		Summary: "Delete a draft journal entry", Description: "Only drafts; a posted entry is immutable (409) and corrected by reversal.",
		Params: idParam, Status: http.StatusNoContent, Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		err := d.Transact(r.Context(), func(tx *db.Tx) error {
			e, err := visibleEntry(r.Context(), tx, r.PathValue("id"))
			if err != nil {
				return err
			}
			return ledger.DeleteDraft(r.Context(), tx, e.ID)
		})
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	api.Handle(rest.Operation{
		ID: "getJournalEntry", Method: http.MethodGet, Path: "/v1/journal-entries/{id}", Tag: "Journal", Scope: read, XML: true,
		Summary: "Get a journal entry", Params: idParam, Response: reflect.TypeOf(ledger.Entry{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		e, err := visibleEntry(r.Context(), d.Reader(r.Context()), r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, e)
	})
	api.Handle(rest.Operation{
		ID: "reverseJournalEntry", Method: http.MethodPost, Path: "/v1/journal-entries/{id}/reverse", Tag: "Journal", Scope: write, XML: true, Idempotent: true,
		Summary: "Reverse a posted journal entry", Description: "Posts the mirror entry on the given date; an entry is reversed at most once (409).",
		Params: idParam, Request: reflect.TypeOf(ReverseRequest{}), Response: reflect.TypeOf(ledger.Entry{}), Status: http.StatusCreated, Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in ReverseRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		var out ledger.Entry
		err := d.Transact(r.Context(), func(tx *db.Tx) error {
			if _, err := visibleEntry(r.Context(), tx, r.PathValue("id")); err != nil {
				return err
			}
			var err error
			out, err = ledger.Reverse(r.Context(), tx, r.PathValue("id"), in.Date)
			return err
		})
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/journal-entries/"+out.ID)
		return rest.Respond(w, r, http.StatusCreated, out)
	})
	mountReports(api, d)
}

// posting builds the posting a request asks for, checking every account.
func posting(ctx context.Context, tx *db.Tx, company string, in EntryRequest) (ledger.Posting, error) {
	currency, err := baseCurrency(ctx, tx, company)
	if err != nil {
		return ledger.Posting{}, err
	}
	p := ledger.Posting{CompanyID: company, Date: in.Date, Currency: currency, SourceType: "manual", SourceID: id.New("man"), Purpose: "journal", Memo: in.Memo}
	for i, l := range in.Lines {
		if err := checkAccount(ctx, tx, company, l.AccountID, i); err != nil {
			return ledger.Posting{}, err
		}
		line := ledger.Line{AccountID: l.AccountID, Memo: l.Memo, Currency: l.Currency, Settles: l.Settles}
		if l.Debit != nil {
			line.Debit = *l.Debit
		}
		if l.Credit != nil {
			line.Credit = *l.Credit
		}
		if l.Rate != nil {
			if l.Rate.Sign() <= 0 {
				return ledger.Posting{}, apperr.Field(fmt.Sprintf("/lines/%d/rate", i), "must be positive")
			}
			line.Rate = *l.Rate
		}
		if line.Currency == currency {
			line.Currency = ""
		}
		p.Lines = append(p.Lines, line)
	}
	return p, nil
}

func filterNames() string {
	names := make([]string, len(ledger.Schema))
	for i, f := range ledger.Schema {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// fiscalYearStart reads fiscal_year_start (MM-DD) from a company's stored
// document.
func fiscalYearStart(doc string) (string, error) {
	var c struct {
		FiscalYearStart string `json:"fiscal_year_start"`
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return "", fmt.Errorf("company document: %w", err)
	}
	if c.FiscalYearStart == "" {
		return "01-01", nil
	}
	return c.FiscalYearStart, nil
}

// visibleEntry is an entry of a company the caller works in; any other is
// 404.
func visibleEntry(ctx context.Context, q db.Querier, entryID string) (ledger.Entry, error) {
	e, err := ledger.Get(ctx, q, entryID)
	if err != nil {
		return e, err
	}
	p, _ := auth.FromContext(ctx)
	if !p.CanAccessCompany(e.CompanyID) {
		return ledger.Entry{}, apperr.New(apperr.NotFound, "No journal entry %q.", entryID)
	}
	return e, nil
}

func baseCurrency(ctx context.Context, q db.Querier, companyID string) (money.Currency, error) {
	var c string
	err := q.QueryRowContext(ctx, "SELECT base_currency FROM companies WHERE id = $1", companyID).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.Field("/company_id", "No company %q.", companyID)
	}
	if err != nil {
		return "", fmt.Errorf("company %s: %w", companyID, err)
	}
	return money.Currency(c), nil
}

// checkAccount requires an active account of the company.
func checkAccount(ctx context.Context, q db.Querier, companyID, accountID string, i int) error {
	var active bool
	err := q.QueryRowContext(ctx, "SELECT active FROM accounts WHERE id = $1 AND company_id = $2", accountID, companyID).Scan(&active)
	ptr := fmt.Sprintf("/lines/%d/account_id", i)
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.Field(ptr, "No account %q in this company.", accountID)
	}
	if err != nil {
		return fmt.Errorf("account %s: %w", accountID, err)
	}
	if !active {
		return apperr.Field(ptr, "Account %s is archived.", accountID)
	}
	return nil
}
