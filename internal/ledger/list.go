package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
)

// Schema is what clients may filter and order journal entries by.
var Schema = query.Schema{
	{Name: "date", Column: "entry_date", Kind: query.String, Sortable: true},
	{Name: "number", Column: "number", Kind: query.Int}, // drafts have none: not an order key
	{Name: "status", Column: "status", Kind: query.Enum, Values: []string{StatusDraft, StatusPosted}},
	{Name: "kind", Column: "kind", Kind: query.String},
	{Name: "source_type", Column: "source_type", Kind: query.String},
	{Name: "source_id", Column: "source_id", Kind: query.String},
	{Name: "purpose", Column: "purpose", Kind: query.String},
	{Name: "reversal_of", Column: "reversal_of", Kind: query.String},
	{Name: "created_at", Column: "created_at", Kind: query.Time, Sortable: true},
}

// ListParams selects a page of a company's journal entries.
type ListParams struct {
	CompanyID string
	Filter    string // AIP-160 over Schema
	OrderBy   string // default date, then id
	AccountID string // only entries with a line on this account
	PageToken string
	PageSize  int
	TokenKey  []byte // HMAC key of page tokens
	ClientID  string // a token is only good for the client it was given to
}

// Page is one page of entries, each with its lines.
type Page struct {
	Data          []Entry `json:"data"`
	NextPageToken string  `json:"next_page_token"`
}

// List returns a page of a company's journal entries with their lines,
// keyset-paged so that pages stay stable while entries are posted.
func List(ctx context.Context, q db.Querier, lp ListParams) (Page, error) {
	where, args := []string{"company_id = $1"}, []any{lp.CompanyID}
	expr, err := query.ParseFilter(lp.Filter)
	if err != nil {
		return Page{}, err
	}
	orderBy := lp.OrderBy
	if orderBy == "" {
		orderBy = "date"
	}
	orders, err := query.ParseOrderBy(orderBy, Schema)
	if err != nil {
		return Page{}, err
	}
	if expr != nil {
		frag, fargs, err := query.CompileFilter(expr, Schema, len(args)+1)
		if err != nil {
			return Page{}, err
		}
		where, args = append(where, "("+frag+")"), append(args, fargs...)
	}
	if lp.AccountID != "" {
		args = append(args, lp.AccountID)
		where = append(where, fmt.Sprintf("EXISTS (SELECT 1 FROM journal_lines l WHERE l.entry_id = journal_entries.id AND l.account_id = $%d)", len(args)))
	}
	fingerprint := query.Fingerprint("journal-entries", lp.CompanyID, lp.Filter, orderBy, lp.AccountID, lp.ClientID)
	if lp.PageToken != "" {
		cur, err := query.DecodeToken(lp.TokenKey, lp.PageToken, fingerprint)
		if err != nil {
			return Page{}, err
		}
		frag, kargs, err := query.Keyset(orders, cur, "id", len(args)+1)
		if err != nil {
			return Page{}, err
		}
		where, args = append(where, "("+frag+")"), append(args, kargs...)
	}
	cols := "id"
	for _, o := range orders {
		cols += ", " + o.Field.Column
	}
	args = append(args, lp.PageSize+1)
	rows, err := q.QueryContext(ctx, "SELECT "+cols+" FROM journal_entries WHERE "+strings.Join(where, " AND ")+
		" ORDER BY "+query.OrderSQL(orders, "id")+fmt.Sprintf(" LIMIT $%d", len(args)), args...)
	if err != nil {
		return Page{}, fmt.Errorf("list journal entries: %w", err)
	}
	type key struct {
		id   string
		vals []any
	}
	keys, err := db.Collect(rows, func(rows *sql.Rows) (key, error) {
		k := key{vals: make([]any, len(orders))}
		dest := []any{&k.id}
		for i := range k.vals {
			dest = append(dest, &k.vals[i])
		}
		return k, rows.Scan(dest...)
	})
	if err != nil {
		return Page{}, fmt.Errorf("list journal entries: %w", err)
	}
	page := Page{Data: []Entry{}}
	if len(keys) > lp.PageSize {
		last := keys[lp.PageSize-1]
		c, err := query.NewCursor(orders, last.vals, last.id)
		if err != nil {
			return Page{}, fmt.Errorf("list journal entries: %w", err)
		}
		page.NextPageToken = query.EncodeToken(lp.TokenKey, c, fingerprint)
		keys = keys[:lp.PageSize]
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.id
	}
	// The page's entries and all their lines in two queries.
	entries, err := loadEntries(ctx, q, ids)
	if err != nil {
		return Page{}, err
	}
	page.Data = append(page.Data, entries...)
	return page, nil
}
