package auth

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// Client authentication methods (RFC 7591 §2 names).
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
)

// authMethods are the methods every client-authenticated endpoint takes.
var authMethods = []string{AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT}

// assertionAlgs are the algorithms a client may sign an assertion with;
// each registered key narrows them to its own.
var assertionAlgs = []string{algEdDSA, algES256}

// JWTBearerAssertion is the client_assertion_type of private_key_jwt (RFC
// 7523 §2.2).
const JWTBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// maxAssertionLifetime is how far ahead an assertion's exp may be: an
// assertion is for one request, and its jti is stored until exp, so a
// long one would be both a replay risk and a storage cost.
const maxAssertionLifetime = 5 * time.Minute

// clientAuth is how a request says which client it is.
type clientAuth struct {
	clientID  string
	secret    string
	assertion string
	method    string
}

// authResult is what authentication found out beyond the client.
type authResult struct {
	previousSecret bool   // the rotated-out secret, inside its overlap
	keyID          string // the key that signed the assertion
}

// readForm parses an OAuth endpoint's form body: form-encoded, bounded,
// nothing in the URL (credentials there end up in logs and proxies), no
// repeated parameter (RFC 6749 §3.2).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("The body must be application/x-www-form-urlencoded.")
	}
	if r.URL.RawQuery != "" {
		return nil, invalidRequest("Send the parameters in the request body, not in the URL.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, invalidRequest("The form body could not be read.")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, invalidRequest("The parameter %q is repeated.", k)
		}
	}
	return r.PostForm, nil
}

// readClientAuth finds the client's credentials: HTTP Basic, client_id
// and client_secret in the body, or a signed client_assertion. Exactly
// one method may be used (RFC 6749 §2.3). On error it still returns the
// client ID it saw, for the audit row.
func readClientAuth(r *http.Request, form url.Values) (clientAuth, *oauthError) {
	var ca clientAuth
	bodyID, bodySecret := form.Get("client_id"), form.Get("client_secret")
	assertionType, assertion := form.Get("client_assertion_type"), form.Get("client_assertion")
	user, pass, basic := r.BasicAuth()
	switch {
	case assertionType != "" || assertion != "":
		ca.clientID, ca.assertion, ca.method = bodyID, assertion, AuthPrivateKeyJWT
		if basic || r.Header.Get("Authorization") != "" || bodySecret != "" {
			return ca, invalidRequest("Use one client authentication method, not a client assertion and a secret.")
		}
		if assertionType != JWTBearerAssertion {
			return ca, invalidRequest("The client_assertion_type must be %s.", JWTBearerAssertion)
		}
	case basic:
		// client_secret_basic: both parts are form-urlencoded before
		// base64 (RFC 6749 §2.3.1).
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return ca, invalidClient("malformed basic credentials")
		}
		ca.clientID, ca.secret, ca.method = id, secret, AuthSecretBasic
		if bodySecret != "" {
			return ca, invalidRequest("Use one client authentication method, not both HTTP Basic and client_secret.")
		}
		if bodyID != "" && bodyID != id {
			return ca, invalidRequest("The client_id in the body differs from the authenticated client.")
		}
	case r.Header.Get("Authorization") != "":
		return ca, invalidClient("unsupported authorization scheme")
	default:
		ca.clientID, ca.secret, ca.method = bodyID, bodySecret, AuthSecretPost
	}
	return ca, nil
}

// missing reports whether the request carries no usable credentials.
func (ca clientAuth) missing() bool {
	if ca.method == AuthPrivateKeyJWT {
		return ca.assertion == ""
	}
	return ca.clientID == "" || ca.secret == ""
}

// authenticateClient checks a client's credentials. Unknown client, wrong
// secret, bad assertion and revoked client all answer invalid_client; the
// reason goes to the audit log only. The returned client carries the ID
// even on failure when the client exists, for the audit row.
func (s *Server) authenticateClient(ctx context.Context, ca clientAuth) (Client, authResult, *oauthError) {
	if ca.missing() {
		return Client{}, authResult{}, invalidClient("no client credentials")
	}
	if ca.method == AuthPrivateKeyJWT {
		return s.authenticateAssertion(ctx, ca)
	}
	if len(ca.clientID) > maxClientIDLen || len(ca.secret) > maxSecretLen {
		return Client{}, authResult{}, invalidClient("oversized credentials")
	}
	c, cr, err := findClientCredentials(ctx, s.db, ca.clientID)
	if apperr.CodeOf(err) == apperr.NotFound {
		// Hash anyway, so an unknown ID takes as long as a wrong secret.
		credentials{}.match(ca.secret, time.Time{})
		return Client{}, authResult{}, invalidClient("unknown client")
	}
	if err != nil {
		return Client{}, authResult{}, s.authUnavailable(ctx, ca.clientID, err)
	}
	var res authResult
	switch cr.match(ca.secret, s.clock.Now()) {
	case secretWrong:
		return c, res, invalidClient("wrong secret")
	case secretPrevious:
		res.previousSecret = true
	}
	if c.Revoked() {
		return c, res, invalidClient("revoked client")
	}
	return c, res, nil
}

func (s *Server) authUnavailable(ctx context.Context, clientID string, err error) *oauthError {
	s.log.ErrorContext(ctx, "authenticate client", "client_id", clientID, "err", err)
	return &oauthError{Code: "server_error", Description: "Client authentication is unavailable; try again.",
		status: http.StatusServiceUnavailable, reason: "database error"}
}

// assertionAudiences are the "aud" values a client assertion may carry:
// this server's issuer, or its token endpoint (RFC 7523 §3 allows either;
// the same assertion form serves revocation and introspection).
func (s *Server) assertionAudiences() []string {
	return []string{s.issuer, s.issuer + TokenPath}
}

// authenticateAssertion checks a private_key_jwt client assertion (RFC
// 7523 §3): signed by one of the client's registered keys with that key's
// algorithm, iss = sub = the client, aud = this server, exp at most
// maxAssertionLifetime ahead, and a jti never used before (recorded in the
// database until the assertion expires, so every node refuses a replay).
func (s *Server) authenticateAssertion(ctx context.Context, ca clientAuth) (Client, authResult, *oauthError) {
	if len(ca.assertion) > maxTokenLen {
		return Client{}, authResult{}, invalidClient("oversized assertion")
	}
	// The client is named inside the assertion; read it unverified to
	// find the keys, then verify everything.
	var peek jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(ca.assertion, &peek); err != nil {
		return Client{}, authResult{}, invalidClient("malformed assertion")
	}
	clientID := peek.Issuer
	switch {
	case clientID == "" || len(clientID) > maxClientIDLen:
		return Client{}, authResult{}, invalidClient("assertion without a usable iss")
	case ca.clientID != "" && ca.clientID != clientID:
		return Client{}, authResult{}, invalidRequest("The client_id differs from the client assertion's issuer.")
	}
	c, _, err := findClientCredentials(ctx, s.db, clientID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return Client{}, authResult{}, invalidClient("unknown client")
	}
	if err != nil {
		return Client{}, authResult{}, s.authUnavailable(ctx, clientID, err)
	}
	keys, err := clientVerifyKeys(ctx, s.db, clientID)
	if err != nil {
		return c, authResult{}, s.authUnavailable(ctx, clientID, err)
	}
	if len(keys) == 0 {
		return c, authResult{}, invalidClient("assertion from a client without keys")
	}
	var res authResult
	claims := &jwt.RegisteredClaims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods(assertionAlgs),
		jwt.WithIssuer(clientID),
		jwt.WithSubject(clientID),
		jwt.WithAudience(s.assertionAudiences()...),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(func() time.Time { return s.clock.Now() }),
	)
	_, err = parser.ParseWithClaims(ca.assertion, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		var match []verifyKey
		for _, k := range keys {
			if (kid == "" || k.kid == kid) && k.alg == t.Method.Alg() {
				match = append(match, k)
			}
		}
		// Without a kid, a client with one key of the algorithm is
		// unambiguous; with several it must say which.
		if len(match) != 1 {
			return nil, fmt.Errorf("no single registered key for kid %q and alg %s", kid, t.Method.Alg())
		}
		res.keyID = match[0].kid
		return match[0].key, nil
	})
	if err != nil {
		return c, authResult{}, invalidClient("bad assertion: " + assertionReason(err))
	}
	now := s.clock.Now()
	if claims.ExpiresAt.Sub(now) > maxAssertionLifetime+leeway {
		return c, authResult{}, invalidClient("assertion lives longer than 5 minutes")
	}
	if claims.ID == "" || len(claims.ID) > 200 {
		return c, authResult{}, invalidClient("assertion without a usable jti")
	}
	if c.Revoked() {
		return c, res, invalidClient("revoked client")
	}
	fresh, err := s.useAssertionID(ctx, clientID, claims.ID, claims.ExpiresAt.Add(leeway), now)
	if err != nil {
		return c, authResult{}, s.authUnavailable(ctx, clientID, err)
	}
	if !fresh {
		return c, authResult{}, invalidClient("replayed assertion")
	}
	return c, res, nil
}

// assertionReason names which check an assertion failed, for the audit
// row; the client only ever sees invalid_client.
func assertionReason(err error) string {
	for _, e := range []error{jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued,
		jwt.ErrTokenInvalidAudience, jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidSubject,
		jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenSignatureInvalid, jwt.ErrTokenUnverifiable, jwt.ErrTokenMalformed} {
		if errors.Is(err, e) {
			return strings.TrimPrefix(e.Error(), "token ")
		}
	}
	return "invalid"
}

// useAssertionID records a client assertion's jti and reports whether it
// was new. Expired records are swept on the way, so the table holds only
// the last few minutes' assertions without a separate job.
func (s *Server) useAssertionID(ctx context.Context, clientID, jti string, expires, now time.Time) (bool, error) {
	fresh := false
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_assertion_jtis WHERE expires_at < $1`, now.UTC()); err != nil {
			return fmt.Errorf("sweep used assertions: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO oauth_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (client_id, jti) DO NOTHING`, clientID, jti, expires.UTC())
		if err != nil {
			return fmt.Errorf("record assertion: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("record assertion: %w", err)
		}
		fresh = n == 1
		return nil
	})
	return fresh, err
}
