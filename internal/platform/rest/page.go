package rest

import (
	"context"
	"net/http"

	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
)

// IDPage serves a page of a list kept in id order (ids are time-ordered,
// so that is creation order). It reads page_size and page_token — a token
// signed and bound to the list's parts (its name, company and filters) and
// to the calling client — asks list for one row more than the page after
// the token's id, and answers the page and the next token ("" on the last
// page).
func IDPage[T any](r *http.Request, parts []string, idOf func(T) string, list func(after string, limit int) ([]T, error)) ([]T, string, error) {
	q := r.URL.Query()
	size, err := query.ParsePageSize(q.Get("page_size"))
	if err != nil {
		return nil, "", err
	}
	p, _ := auth.FromContext(r.Context())
	fp := query.Fingerprint(append(append([]string(nil), parts...), p.ClientID)...)
	after := ""
	if tok := q.Get("page_token"); tok != "" {
		c, err := query.DecodeToken(audit.PageTokenKey(), tok, fp)
		if err != nil {
			return nil, "", err
		}
		after = c.ID
	}
	rows, err := list(after, size+1)
	if err != nil {
		return nil, "", err
	}
	if len(rows) > size {
		return rows[:size], query.EncodeToken(audit.PageTokenKey(), query.Cursor{ID: idOf(rows[size-1])}, fp), nil
	}
	return rows, "", nil
}

// Write is the handler of a write with a body: it decodes the body (JSON
// or XML), resolves the company the body names in company_id (else the
// caller's only company), runs fn in one transaction and responds with
// status, setting Location when location gives one.
func Write[In any, Out any](a *API, d *db.DB, status int, companyOf func(*In) string, location func(Out) string,
	fn func(ctx context.Context, tx *db.Tx, company string, in *In) (Out, error)) Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in In
		if _, err := a.Decode(r, &in, true); err != nil {
			return err
		}
		company, err := Company(r.Context(), companyOf(&in), "/company_id")
		if err != nil {
			return err
		}
		var out Out
		err = d.Transact(r.Context(), func(tx *db.Tx) error {
			var err error
			out, err = fn(r.Context(), tx, company, &in)
			return err
		})
		if err != nil {
			return err
		}
		if location != nil {
			w.Header().Set("Location", location(out))
		}
		return Respond(w, r, status, out)
	}
}
