package rest

import (
	"context"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
)

// Company decides which company a request works in. A client granted one
// company works in it implicitly; a client granted several, or all, must
// name it, else 422 pointing at where it goes (pointer: "/company_id" in a
// body, "query:company_id" for a list). A named company the client may not
// use reads as unknown, never as forbidden, so nothing reveals that it
// exists.
func Company(ctx context.Context, named, pointer string) (string, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return "", apperr.New(apperr.Unauthenticated, "No credentials.")
	}
	if named != "" {
		if !p.CanAccessCompany(named) {
			return "", apperr.Field(pointer, "No company %q is available to this client.", named)
		}
		return named, nil
	}
	if !p.AllCompanies() && len(p.Companies) == 1 {
		return p.Companies[0], nil
	}
	return "", apperr.Field(pointer, "company_id is required: this client works in more than one company.")
}
