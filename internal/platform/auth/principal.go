package auth

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/httpx"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
)

// Principal is who is calling and what they may do: the client, its roles,
// the scopes its token grants and the companies it may work in.
type Principal struct {
	ClientID  string
	Roles     []string
	Scopes    []string
	Companies []string // empty: every company
}

// Has reports whether the principal holds scope.
func (p Principal) Has(scope string) bool { return slices.Contains(p.Scopes, scope) }

// AllCompanies reports whether the principal may work in every company. A
// zero Principal (no client) may work in none, so a forgotten check of
// FromContext's ok fails closed.
func (p Principal) AllCompanies() bool { return p.ClientID != "" && len(p.Companies) == 0 }

// CanAccessCompany reports whether the principal may work in the company.
func (p Principal) CanAccessCompany(companyID string) bool {
	if p.ClientID == "" || companyID == "" {
		return false
	}
	return len(p.Companies) == 0 || slices.Contains(p.Companies, companyID)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal in ctx, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Require returns nil if the principal in ctx holds scope, else a
// Forbidden error naming the scope (an Unauthenticated one if ctx carries
// no principal at all). Services call it, so a check cannot be skipped by
// reaching the service another way than through its handler.
func Require(ctx context.Context, scope string) error {
	p, ok := FromContext(ctx)
	if !ok || p.ClientID == "" {
		return apperr.New(apperr.Unauthenticated, "This operation needs an access token.")
	}
	if !p.Has(scope) {
		return apperr.New(apperr.Forbidden, "This operation needs the scope %q.", scope)
	}
	return nil
}

// InsufficientScope sets the RFC 6750 §3 challenge for a missing scope;
// handlers call it before writing the 403 that Require's error becomes.
func InsufficientScope(w http.ResponseWriter, scope string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+quoteSafe(scope)+`"`)
}

// quoteSafe drops characters that cannot appear in a quoted-string (and
// which no scope contains), so a header can never be split or broken.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r > 0x7e {
			return -1
		}
		return r
	}, s)
}

// Middleware requires a valid bearer token (RFC 6750 §2.1) and puts its
// Principal in the request context, and the client as the actor that
// audit rows name. A missing or refused token is a 401 problem with a
// Bearer challenge.
func (s *Server) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mainstay"`)
			httpx.WriteError(w, r, apperr.New(apperr.Unauthenticated,
				"This request needs an access token: send Authorization: Bearer <token>, from %s.", s.issuer+TokenPath))
			return
		}
		p, err := s.Verify(r.Context(), raw)
		if err != nil {
			if apperr.CodeOf(err) == apperr.Unauthenticated {
				w.Header().Set("WWW-Authenticate", `Bearer realm="mainstay", error="invalid_token"`)
			}
			httpx.WriteError(w, r, err)
			return
		}
		ctx := reqctx.WithActor(WithPrincipal(r.Context(), p), p.ClientID)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// bearerToken returns the token of an "Authorization: Bearer" header. The
// scheme is case-insensitive (RFC 9110 §11.1). A header with another
// scheme counts as no token; tokens in the URL are never read (RFC 9700).
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
