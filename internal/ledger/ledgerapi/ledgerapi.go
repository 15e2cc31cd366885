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
	"time"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// EntryRequest posts a journal entry.
type EntryRequest struct {
	CompanyID string        `json:"company_id,omitempty" doc:"Required when the client works in more than one company."`
	Date      string        `json:"date" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"The posting date, YYYY-MM-DD, in the company's time zone."`
	Memo      string        `json:"memo,omitempty" maxLength:"500"`
	Lines     []LineRequest `json:"lines" minItems:"2" maxItems:"1000"`
}

// LineRequest is one line: a debit or a credit, in the company currency.
type LineRequest struct {
	AccountID string         `json:"account_id"`
	Debit     *money.Decimal `json:"debit,omitempty"`
	Credit    *money.Decimal `json:"credit,omitempty"`
	Memo      string         `json:"memo,omitempty" maxLength:"500"`
}

// ReverseRequest reverses a posted entry.
type ReverseRequest struct {
	Date string `json:"date" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"The reversal's posting date."`
}

// TrialBalance is the trial balance of a company.
type TrialBalance struct {
	CompanyID string           `json:"company_id"`
	AsOf      string           `json:"as_of"`
	Currency  money.Currency   `json:"currency"`
	Lines     []ledger.Balance `json:"lines"`
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
			currency, err := baseCurrency(r.Context(), tx, company)
			if err != nil {
				return err
			}
			p := ledger.Posting{CompanyID: company, Date: in.Date, Currency: currency, SourceType: "manual", SourceID: id.New("man"), Purpose: "journal", Memo: in.Memo}
			for i, l := range in.Lines {
				if err := checkAccount(r.Context(), tx, company, l.AccountID, i); err != nil {
					return err
				}
				line := ledger.Line{AccountID: l.AccountID, Memo: l.Memo}
				if l.Debit != nil {
					line.Debit = *l.Debit
				}
				if l.Credit != nil {
					line.Credit = *l.Credit
				}
				p.Lines = append(p.Lines, line)
			}
			out, err = ledger.Post(r.Context(), tx, p)
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
	api.Handle(rest.Operation{
		ID: "getTrialBalance", Method: http.MethodGet, Path: "/v1/reports/trial-balance", Tag: "Reports", Scope: read, XML: true,
		Summary:     "Trial balance",
		Description: "Sums of posted debits and credits per account, computed from the postings, as of a date (default today, UTC).",
		Params:      []rest.Param{{Name: "company_id", In: "query"}, {Name: "as_of", In: "query", Description: "YYYY-MM-DD"}},
		Response:    reflect.TypeOf(TrialBalance{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		asOf := r.URL.Query().Get("as_of")
		if asOf == "" {
			asOf = d.Now().Format(time.DateOnly)
		} else if _, err := time.Parse(time.DateOnly, asOf); err != nil {
			return apperr.New(apperr.BadRequest, "as_of must be a date, YYYY-MM-DD.").WithFields(apperr.FieldError{Pointer: "query:as_of", Detail: "YYYY-MM-DD"})
		}
		q := d.Reader(r.Context())
		currency, err := baseCurrency(r.Context(), q, company)
		if err != nil {
			return err
		}
		lines, err := ledger.TrialBalance(r.Context(), q, company, asOf)
		if err != nil {
			return err
		}
		if lines == nil {
			lines = []ledger.Balance{}
		}
		return rest.Respond(w, r, http.StatusOK, TrialBalance{CompanyID: company, AsOf: asOf, Currency: currency, Lines: lines})
	})
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
