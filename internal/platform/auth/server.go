// Package auth is Mainstay's OAuth 2.0 authorization server and the
// resource-server side that checks its tokens.
//
// Machine clients get access tokens with the client-credentials grant (RFC
// 6749 §4.4) at POST /oauth2/token, authenticating with a secret (basic or
// post) or a signed assertion (private_key_jwt, RFC 7523). Tokens are JWTs
// per RFC 9068, signed with Ed25519 keys that live in the database, so
// every node issues and verifies the same tokens; keys rotate and are
// retired once their last token has expired. The public keys are at
// /oauth2/jwks and the server metadata at
// /.well-known/oauth-authorization-server (RFC 8414); tokens are revoked
// at /oauth2/revoke (RFC 7009) and introspected at /oauth2/introspect (RFC
// 7662). Roles grant scopes through the built-in table (roles.go) and
// custom roles (customroles.go). Tokens of trusted outside issuers are
// accepted through explicit mappings to roles (issuers.go, external.go).
// The Middleware turns a bearer token into a Principal in the request
// context.
package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/clock"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
)

// Paths of the endpoints Routes mounts.
const (
	TokenPath      = "/oauth2/token"
	JWKSPath       = "/oauth2/jwks"
	MetadataPath   = "/.well-known/oauth-authorization-server"
	RevokePath     = "/oauth2/revoke"
	IntrospectPath = "/oauth2/introspect"
)

// GrantClientCredentials is the one grant type served so far.
const GrantClientCredentials = "client_credentials"

// Defaults and bounds of Options.
const (
	DefaultTokenTTL       = time.Hour
	DefaultClientCacheTTL = 5 * time.Second
	// MaxClientCacheTTL caps how long a revoked client's tokens may keep
	// working on a node that did not revoke it.
	MaxClientCacheTTL = 5 * time.Second
	maxTokenTTL       = 24 * time.Hour
	maxFormBytes      = 16 << 10
	maxClientIDLen    = 100
	maxSecretLen      = 200
)

// Options configure a Server.
type Options struct {
	// Issuer is the server's public base URL, e.g. https://erp.example.com.
	// It is the tokens' "iss"; the audience is Audience(Issuer).
	Issuer string
	// TokenTTL is how long access tokens live; default DefaultTokenTTL.
	TokenTTL time.Duration
	// Clock issues and checks token times; default the system clock.
	Clock clock.Clock
	// ClientCacheTTL is how long a node trusts its last look at whether a
	// client is revoked: 0 means DefaultClientCacheTTL, a negative value
	// means look every time, and more than MaxClientCacheTTL is capped.
	ClientCacheTTL time.Duration
	// Logger receives failures that do not reach the client (an audit row
	// that could not be written for a refusal); default discards.
	Logger *slog.Logger
	// TrustIssuers are outside issuers (exact "iss" values, https or
	// loopback http) whose access tokens are accepted, in addition to
	// those in the trusted_issuers table. Their audience, JWKS URL and
	// mappings come from the table; one with no row there is checked
	// against this server's own audience and, having no mapping, every
	// subject it sends gets 403.
	TrustIssuers []string
}

// Server issues and verifies access tokens.
type Server struct {
	db       *db.DB
	issuer   string
	audience string
	ttl      time.Duration
	clock    clock.Clock
	log      *slog.Logger
	keys     *keyset
	clients  *clientCache
	revoked  *revokedCache
	verified *verifiedCache
	trusted  *trustedSet
	parser   *jwt.Parser
	lenient  *jwt.Parser // for revocation: ours, whatever the time
}

// NewServer returns a token server on d. Signing keys are loaded, or on an
// empty database created, on first use.
func NewServer(d *db.DB, opts Options) (*Server, error) {
	issuer, err := checkIssuer(opts.Issuer)
	if err != nil {
		return nil, err
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.TokenTTL < time.Minute || opts.TokenTTL > maxTokenTTL {
		return nil, fmt.Errorf("auth: token lifetime %s is outside 1m..%s", opts.TokenTTL, maxTokenTTL)
	}
	if opts.Clock == nil {
		opts.Clock = clock.System{}
	}
	switch {
	case opts.ClientCacheTTL == 0:
		opts.ClientCacheTTL = DefaultClientCacheTTL
	case opts.ClientCacheTTL > MaxClientCacheTTL:
		opts.ClientCacheTTL = MaxClientCacheTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var trust []string
	for _, iss := range opts.TrustIssuers {
		if err := checkOutsideURL(iss, false); err != nil {
			return nil, fmt.Errorf("auth: trusted issuer: %w", err)
		}
		if strings.TrimRight(iss, "/") == issuer {
			return nil, fmt.Errorf("auth: trusted issuer %q is this server itself", iss)
		}
		trust = append(trust, iss)
	}
	s := &Server{
		db:       d,
		issuer:   issuer,
		audience: Audience(issuer),
		ttl:      opts.TokenTTL,
		clock:    opts.Clock,
		log:      opts.Logger,
		keys:     newKeyset(d),
		clients:  newClientCache(d, opts.ClientCacheTTL),
		revoked:  newRevokedCache(d, opts.ClientCacheTTL),
		verified: &verifiedCache{entries: map[string]verifiedEntry{}},
	}
	s.keys.now = func() time.Time { return s.clock.Now() }
	s.keys.retireAfter = s.retireAfter()
	s.trusted = newTrustedSet(s, trust)
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{Algorithm}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(s.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(func() time.Time { return s.clock.Now() }),
		jwt.WithStrictDecoding(),
	)
	s.lenient = lenientParser()
	return s, nil
}

// checkIssuer requires an absolute http(s) URL without query or fragment
// (RFC 8414 §2) and drops a trailing slash, so "iss" is spelled one way.
func checkIssuer(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || raw == "" || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("auth: issuer %q must be an http(s) URL without query or fragment, e.g. https://erp.example.com", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// Issuer returns the issuer URL tokens carry.
func (s *Server) Issuer() string { return s.issuer }

// Routes mounts the token, revocation and introspection endpoints, the
// JWKS and the server metadata. None of them takes a bearer token: the
// first three authenticate the client themselves.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+TokenPath, s.Token)
	mux.HandleFunc("POST "+RevokePath, s.Revoke)
	mux.HandleFunc("POST "+IntrospectPath, s.Introspect)
	mux.HandleFunc("GET "+JWKSPath, s.JWKS)
	mux.HandleFunc("GET "+MetadataPath, s.Metadata)
}

// oauthError is an RFC 6749 §5.2 error response. The token endpoint
// answers in OAuth's format, not problem+json, because OAuth client
// libraries parse exactly this shape.
type oauthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	status      int
	reason      string // for the audit row only; may name internal facts
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func invalidRequest(format string, args ...any) *oauthError {
	return &oauthError{Code: "invalid_request", Description: fmt.Sprintf(format, args...), status: http.StatusBadRequest}
}

// invalidClient is one answer for every authentication failure, so the
// response never tells whether a client ID exists; reason tells the audit
// log which it was.
func invalidClient(reason string) *oauthError {
	return &oauthError{Code: "invalid_client", Description: "Client authentication failed.", status: http.StatusUnauthorized, reason: reason}
}

// tokenResponse is RFC 6749 §5.1; no refresh token for client credentials.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// Token is POST /oauth2/token: the client-credentials grant.
func (s *Server) Token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// Tokens and errors alike must not be cached (RFC 6749 §5.1).
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")

	req, oerr := s.readTokenRequest(w, r)
	var c Client
	var res authResult
	if oerr == nil {
		c, res, oerr = s.authenticateClient(ctx, req.auth)
	}
	if oerr == nil && req.grantType != GrantClientCredentials {
		oerr = &oauthError{Code: "unsupported_grant_type", status: http.StatusBadRequest,
			Description: fmt.Sprintf("The grant type %q is not supported; use %q.", req.grantType, GrantClientCredentials)}
	}
	var scopes []string
	if oerr == nil {
		scopes, oerr = s.grantedScopes(ctx, c, req.scope)
	}
	if oerr != nil {
		details := map[string]any{}
		if req.grantType != "" && len(req.grantType) <= 64 {
			details["grant_type"] = req.grantType
		}
		s.refuse(ctx, w, "token.issue", "access_token", req.auth, c, oerr, details)
		return
	}

	tok, err := s.issue(ctx, c, scopes)
	if err == nil {
		details := map[string]any{
			"client_id": c.ID, "grant_type": req.grantType, "auth_method": req.auth.method,
			"scope": strings.Join(scopes, " "), "expires_at": tok.expires.Format(time.RFC3339),
		}
		res.addTo(details)
		err = s.db.Transact(ctx, func(tx *db.Tx) error {
			return audit.Record(ctx, tx, audit.Entry{
				Actor: c.ID, Action: "token.issue", ResourceType: "access_token", ResourceID: tok.jti,
				Outcome: audit.Success, Details: details,
			})
		})
	}
	if err != nil {
		// Not audited means not issued: the token is dropped unseen.
		s.log.ErrorContext(ctx, "issue access token", "client_id", c.ID, "err", err)
		writeJSON(w, http.StatusInternalServerError, oauthError{Code: "server_error", Description: "The token could not be issued; try again."})
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: tok.raw,
		TokenType:   "Bearer",
		ExpiresIn:   int64(s.ttl / time.Second),
		Scope:       strings.Join(scopes, " "),
	})
}

// addTo tells the audit row how the client proved itself: an operator
// ending a secret's overlap wants to know who still uses the old one.
func (res authResult) addTo(details map[string]any) {
	if res.previousSecret {
		details["secret"] = "previous"
	}
	if res.keyID != "" {
		details["key_id"] = res.keyID
	}
}

// tokenRequest is what the token endpoint read from a request.
type tokenRequest struct {
	grantType string
	scope     string
	auth      clientAuth
}

// readTokenRequest parses the form and finds the client's credentials. On
// error it still returns the client ID it saw, for the audit row.
func (s *Server) readTokenRequest(w http.ResponseWriter, r *http.Request) (tokenRequest, *oauthError) {
	var req tokenRequest
	form, oerr := readForm(w, r)
	if oerr != nil {
		return req, oerr
	}
	req.grantType, req.scope = form.Get("grant_type"), form.Get("scope")
	if req.auth, oerr = readClientAuth(r, form); oerr != nil {
		return req, oerr
	}
	if req.grantType == "" {
		return req, invalidRequest("The parameter grant_type is required.")
	}
	return req, nil
}

// grantedScopes is the client's scopes, or the subset it asked for. Custom
// roles are read at issuance, so a changed role applies to the next token.
func (s *Server) grantedScopes(ctx context.Context, c Client, requested string) ([]string, *oauthError) {
	all, err := ResolveScopes(ctx, s.db, c.Roles)
	if err != nil && apperr.CodeOf(err) != apperr.Invalid {
		return nil, s.authUnavailable(ctx, c.ID, err)
	}
	if err != nil {
		// A role that no longer exists: grant nothing rather than guess,
		// and say so.
		return nil, &oauthError{Code: "invalid_scope", Description: "The client holds a role this server does not know.",
			status: http.StatusBadRequest, reason: err.Error()}
	}
	asked := strings.Fields(requested)
	if len(asked) == 0 {
		return all, nil
	}
	for _, sc := range asked {
		if !slices.Contains(all, sc) {
			if len(sc) > 100 {
				sc = sc[:100] + "…"
			}
			return nil, &oauthError{Code: "invalid_scope", Description: fmt.Sprintf("The client may not have the scope %q.", sc),
				status: http.StatusBadRequest}
		}
	}
	return canonical(asked), nil
}

// refuse audits a refused request to an OAuth endpoint in its own
// transaction and writes the OAuth error. The audit row names the client
// only when it exists (never the secret), so made-up IDs cannot pose as
// actors.
func (s *Server) refuse(ctx context.Context, w http.ResponseWriter, action, resourceType string, ca clientAuth, c Client, oerr *oauthError, details map[string]any) {
	actor := "anonymous"
	if c.ID != "" {
		actor = c.ID
	}
	if details == nil {
		details = map[string]any{}
	}
	details["error"] = oerr.Code
	if oerr.reason != "" {
		details["reason"] = oerr.reason
	}
	if ca.method != "" {
		details["auth_method"] = ca.method
	}
	// An ID that is not shaped like one might be a secret pasted into the
	// wrong field; leave it out.
	if id.HasPrefix(ca.clientID, ClientIDPrefix) {
		details["client_id"] = ca.clientID
	} else if c.ID != "" {
		details["client_id"] = c.ID
	}
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		return audit.Record(ctx, tx, audit.Entry{
			Actor: actor, Action: action, ResourceType: resourceType,
			Outcome: audit.Failure, Details: details,
		})
	})
	if err != nil {
		// The refusal stands either way; the log keeps the gap visible.
		s.log.ErrorContext(ctx, "audit refused OAuth request", "err", err, "action", action, "error", oerr.Code)
	}
	if oerr.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="mainstay"`)
	}
	writeJSON(w, oerr.status, oerr)
}

// Metadata is GET /.well-known/oauth-authorization-server (RFC 8414).
func (s *Server) Metadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.issuer,
		"token_endpoint":                        s.issuer + TokenPath,
		"jwks_uri":                              s.issuer + JWKSPath,
		"revocation_endpoint":                   s.issuer + RevokePath,
		"introspection_endpoint":                s.issuer + IntrospectPath,
		"grant_types_supported":                 []string{GrantClientCredentials},
		"token_endpoint_auth_methods_supported": authMethods,
		"token_endpoint_auth_signing_alg_values_supported":         assertionAlgs,
		"revocation_endpoint_auth_methods_supported":               authMethods,
		"revocation_endpoint_auth_signing_alg_values_supported":    assertionAlgs,
		"introspection_endpoint_auth_methods_supported":            authMethods,
		"introspection_endpoint_auth_signing_alg_values_supported": assertionAlgs,
		"scopes_supported": allScopes,
		// Required by RFC 8414 even without an authorization endpoint;
		// empty because no grant here uses one.
		"response_types_supported": []string{},
	})
}

// JWKS is GET /oauth2/jwks: the public halves of the unretired keys.
func (s *Server) JWKS(w http.ResponseWriter, r *http.Request) {
	keys, err := s.keys.public(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "load signing keys", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, oauthError{Code: "server_error", Description: "The keys are unavailable; try again."})
		return
	}
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	// Short, so that a verifier caching it sees a rotation soon; verifiers
	// should refetch on an unknown kid anyway.
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSON(w, http.StatusOK, set)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own fixed types get here; a failure is a programming error.
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
