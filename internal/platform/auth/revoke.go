package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// RevokedTokensTopic is notified when an access token is revoked, so that
// servers sharing the *db.DB refuse it at once; other nodes notice within
// the client cache's lifetime.
const RevokedTokensTopic = "auth.tokens_revoked"

// IntrospectAnyScope is the scope a client's roles must grant for it to
// introspect other clients' tokens; any other client sees only its own
// tokens as active. It is the scope that already reads every client with
// its roles and companies (/v1/clients), so introspection discloses
// nothing new to its holder, while a sales integration cannot probe
// another client's token for its scopes and companies.
var IntrospectAnyScope = Scope("clients", Read)

// Revoke is POST /oauth2/revoke (RFC 7009). The client authenticates as at
// the token endpoint and names a token; a token it holds is refused from
// then on, until it would have expired. An unknown, invalid or expired
// token is answered 200 like a revoked one (§2.2), so the endpoint tells
// nothing about tokens; a valid token of another client is refused with
// unauthorized_client (§2.1), and nothing is revoked.
func (s *Server) Revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	c, ca, form, oerr := s.authenticatedForm(w, r)
	if oerr != nil {
		s.refuse(ctx, w, "token.revoke", "access_token", ca, c, oerr, nil)
		return
	}
	// token_type_hint is optional and only a hint (§2.1); the only tokens
	// here are access tokens, so it is ignored.
	claims, err := s.parseOwnToken(ctx, form.Get("token"))
	if err != nil {
		s.log.ErrorContext(ctx, "revoke token", "client_id", c.ID, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, oauthError{Code: "server_error", Description: "Tokens cannot be checked right now; try again."})
		return
	}
	now := s.clock.Now().UTC()
	if claims == nil || !claims.ExpiresAt.Add(leeway).After(now) {
		w.WriteHeader(http.StatusOK) // nothing that works, nothing to do
		return
	}
	if claims.ClientID != c.ID {
		s.refuse(ctx, w, "token.revoke", "access_token", ca, c, &oauthError{Code: "unauthorized_client",
			Description: "The token was not issued to this client.", status: http.StatusBadRequest,
			reason: "token of client " + claims.ClientID}, map[string]any{"token_id": claims.ID})
		return
	}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		// Rows of tokens that have expired anyway are swept on the way, so
		// the table stays as small as the set of live revoked tokens.
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_revoked_tokens WHERE expires_at < $1`, now); err != nil {
			return fmt.Errorf("sweep revoked tokens: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO oauth_revoked_tokens (jti, client_id, revoked_at, expires_at)
VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING`, claims.ID, c.ID, tx.Now(), claims.ExpiresAt.Add(leeway).UTC()); err != nil {
			return fmt.Errorf("store revoked token: %w", err)
		}
		tx.Notify(RevokedTokensTopic)
		return audit.Record(ctx, tx, audit.Entry{
			Actor: c.ID, Action: "token.revoke", ResourceType: "access_token", ResourceID: claims.ID,
			Outcome: audit.Success, Details: map[string]any{"client_id": c.ID, "auth_method": ca.method},
		})
	})
	if err != nil {
		s.log.ErrorContext(ctx, "revoke token", "client_id", c.ID, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, oauthError{Code: "server_error", Description: "The token could not be revoked; try again."})
		return
	}
	w.WriteHeader(http.StatusOK)
}

// introspection is an RFC 7662 §2.2 answer about an active token. Roles
// and companies are Mainstay's own members: what a resource server needs
// to enforce the same rules as the API.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope"`
	ClientID  string   `json:"client_id"`
	TokenType string   `json:"token_type"`
	Exp       int64    `json:"exp"`
	Iat       int64    `json:"iat"`
	Nbf       int64    `json:"nbf,omitempty"`
	Sub       string   `json:"sub"`
	Aud       []string `json:"aud"`
	Iss       string   `json:"iss"`
	Jti       string   `json:"jti"`
	Roles     []string `json:"roles,omitempty"`
	Companies []string `json:"companies,omitempty"`
}

// Introspect is POST /oauth2/introspect (RFC 7662). The caller must be an
// authenticated client. It answers {"active":false} for any token that is
// invalid, expired, revoked, of a revoked client, not this server's, or
// of another client (unless the caller's roles grant IntrospectAnyScope),
// so the answer never tells which. It reads the database directly, not the
// per-node caches: it is the authoritative check.
func (s *Server) Introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	c, ca, form, oerr := s.authenticatedForm(w, r)
	if oerr != nil {
		s.refuse(ctx, w, "token.introspect", "access_token", ca, c, oerr, nil)
		return
	}
	claims, err := s.verifyLocal(ctx, form.Get("token"), true)
	active := err == nil
	if active && claims.ClientID != c.ID {
		var callerScopes []string
		callerScopes, err = ResolveScopes(ctx, s.db, c.Roles)
		if apperr.CodeOf(err) == apperr.Invalid {
			err = nil // the caller holds a role that is gone: it grants nothing
		}
		active = err == nil && slices.Contains(callerScopes, IntrospectAnyScope)
	}
	if code := apperr.CodeOf(err); err != nil && (code == apperr.Unavailable || code == apperr.Internal) {
		s.log.ErrorContext(ctx, "introspect token", "client_id", c.ID, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, oauthError{Code: "server_error", Description: "Tokens cannot be checked right now; try again."})
		return
	}
	if !active {
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	out := introspection{
		Active: true, Scope: claims.Scope, ClientID: claims.ClientID, TokenType: "Bearer",
		Exp: claims.ExpiresAt.Unix(), Iat: claims.IssuedAt.Unix(), Sub: claims.Subject,
		Aud: claims.Audience, Iss: claims.Issuer, Jti: claims.ID, Roles: claims.Roles, Companies: claims.Companies,
	}
	if claims.NotBefore != nil {
		out.Nbf = claims.NotBefore.Unix()
	}
	writeJSON(w, http.StatusOK, out)
}

// authenticatedForm reads an endpoint's form and authenticates the client,
// and requires the token parameter (RFC 7009 §2.1, RFC 7662 §2.1).
func (s *Server) authenticatedForm(w http.ResponseWriter, r *http.Request) (Client, clientAuth, url.Values, *oauthError) {
	form, oerr := readForm(w, r)
	if oerr != nil {
		return Client{}, clientAuth{}, nil, oerr
	}
	ca, oerr := readClientAuth(r, form)
	if oerr != nil {
		return Client{}, ca, nil, oerr
	}
	c, _, oerr := s.authenticateClient(r.Context(), ca)
	if oerr != nil {
		return c, ca, nil, oerr
	}
	if form.Get("token") == "" {
		return c, ca, nil, invalidRequest("The parameter token is required.")
	}
	return c, ca, form, nil
}

// parseOwnToken returns the claims of a token this server signed, expired
// or not, or nil for anything else (garbage, another issuer, a bad
// signature, a retired key). Only a failure to read the keys is an error.
func (s *Server) parseOwnToken(ctx context.Context, raw string) (*accessClaims, error) {
	if raw == "" || len(raw) > maxTokenLen {
		return nil, nil
	}
	claims := &accessClaims{}
	var keyErr error
	_, err := s.lenient.ParseWithClaims(raw, claims, s.keyFunc(ctx, &keyErr))
	if keyErr != nil {
		return nil, keyErr
	}
	if err != nil || claims.Issuer != s.issuer || claims.ID == "" || claims.ClientID == "" || claims.ExpiresAt == nil {
		return nil, nil
	}
	return claims, nil
}

// revokedCache keeps this node's copy of the revoked, unexpired token IDs:
// one query per cache lifetime, whatever the traffic, while a revocation
// through this node's *db.DB applies at once.
type revokedCache struct {
	d       *db.DB
	ttl     time.Duration // <= 0: ask the database every time
	changed <-chan struct{}

	mu       sync.Mutex
	loaded   bool
	loadedAt time.Time
	jtis     map[string]struct{}
}

func newRevokedCache(d *db.DB, ttl time.Duration) *revokedCache {
	return &revokedCache{d: d, ttl: ttl, changed: d.Subscribe(RevokedTokensTopic)}
}

func (c *revokedCache) isRevoked(ctx context.Context, jti string, now time.Time, fresh bool) (bool, error) {
	if fresh || c.ttl <= 0 {
		var one int
		err := c.d.QueryRowContext(ctx, `SELECT 1 FROM oauth_revoked_tokens WHERE jti = $1`, jti).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("check revoked token: %w", err)
		}
		return true, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.changed:
		c.loaded = false
	default:
	}
	if !c.loaded || now.Sub(c.loadedAt) >= c.ttl || now.Before(c.loadedAt) {
		// The lock is held across the query on purpose: concurrent
		// requests wait for one load instead of each running it.
		jtis, err := loadRevoked(ctx, c.d, now)
		if err != nil {
			return false, err
		}
		c.jtis, c.loaded, c.loadedAt = jtis, true, now
	}
	_, ok := c.jtis[jti]
	return ok, nil
}

func loadRevoked(ctx context.Context, q db.Querier, now time.Time) (map[string]struct{}, error) {
	rows, err := q.QueryContext(ctx, `SELECT jti FROM oauth_revoked_tokens WHERE expires_at >= $1`, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("load revoked tokens: %w", err)
	}
	defer rows.Close()
	out := map[string]struct{}{}
	for rows.Next() {
		var jti string
		if err := rows.Scan(&jti); err != nil {
			return nil, fmt.Errorf("load revoked tokens: %w", err)
		}
		out[jti] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load revoked tokens: %w", err)
	}
	return out, nil
}

// lenientParser checks only what proves a token is ours (algorithm,
// signature, strict encoding), not its times: revocation must recognise a
// token that is about to expire or has just expired.
func lenientParser() *jwt.Parser {
	return jwt.NewParser(jwt.WithValidMethods([]string{Algorithm}), jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding())
}
