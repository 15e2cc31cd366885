package auth

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
)

// TokenType is the JWT "typ" of access tokens (RFC 9068 §2.1). Checking it
// keeps another kind of JWT signed by the same key (an ID token, a future
// logout token) from being accepted as an access token.
const TokenType = "at+jwt"

// leeway absorbs clock skew between the nodes that issue and verify.
const leeway = 30 * time.Second

// maxTokenLen bounds what Verify parses; real tokens are well under 2 KiB.
const maxTokenLen = 8 << 10

// Audience is the "aud" of access tokens issued by issuer: the v1 API.
func Audience(issuer string) string { return strings.TrimRight(issuer, "/") + "/v1" }

// accessClaims are the claims of an access token (RFC 9068 §2.2, plus
// roles and companies).
type accessClaims struct {
	jwt.RegisteredClaims
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope"`
	Roles     []string `json:"roles,omitempty"`
	Companies []string `json:"companies,omitempty"` // absent: every company
}

// Validate is called by the parser after the registered claims checks.
func (c *accessClaims) Validate() error {
	switch {
	case c.Subject == "":
		return errors.New("no sub")
	case c.ClientID != c.Subject:
		return errors.New("client_id differs from sub")
	case c.ID == "":
		return errors.New("no jti")
	case c.IssuedAt == nil:
		return errors.New("no iat")
	}
	return nil
}

// issued is a signed token and what it grants.
type issued struct {
	raw     string
	jti     string
	expires time.Time
}

// issue signs an access token for the client with the given scopes.
func (s *Server) issue(ctx context.Context, c Client, scopes []string) (issued, error) {
	key, err := s.keys.signer(ctx)
	if err != nil {
		return issued{}, err
	}
	now := s.clock.Now().UTC()
	exp := now.Add(s.ttl)
	jti := id.New("at")
	claims := &accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:   s.issuer,
			Subject:  c.ID,
			Audience: jwt.ClaimStrings{s.audience},
			IssuedAt: jwt.NewNumericDate(now),
			// nbf = iat: a verifier whose clock is behind by more than the
			// leeway refuses the token rather than trust a time it has
			// not reached.
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        jti,
		},
		ClientID:  c.ID,
		Scope:     strings.Join(scopes, " "),
		Roles:     c.Roles,
		Companies: c.Companies,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["typ"] = TokenType
	t.Header["kid"] = key.kid
	raw, err := t.SignedString(key.private)
	if err != nil {
		return issued{}, fmt.Errorf("sign access token: %w", err)
	}
	return issued{raw: raw, jti: jti, expires: exp}, nil
}

// Verify checks an access token and returns what it grants. Every failure
// is an apperr.Unauthenticated error (its cause, for the log, says why),
// except a database failure while checking the token, which is
// apperr.Unavailable, and a valid token from a trusted outside issuer that
// no mapping covers, which is apperr.Forbidden.
func (s *Server) Verify(ctx context.Context, raw string) (Principal, error) {
	if raw == "" || len(raw) > maxTokenLen {
		return Principal{}, errInvalidToken.Wrap(errors.New("empty or oversized token"))
	}
	// The issuer picks the rules: our own tokens, or an outside issuer's
	// with its keys and mappings. Anything else fails our own checks.
	if iss := peekIssuer(raw); iss != "" && iss != s.issuer {
		e, ok, err := s.trusted.lookup(ctx, iss)
		if err != nil {
			return Principal{}, errCheckUnavailable.Wrap(err)
		}
		if ok {
			return s.verifyExternal(ctx, raw, e)
		}
	}
	claims, err := s.verifyLocal(ctx, raw, false)
	if err != nil {
		return Principal{}, err
	}
	return Principal{
		ClientID:  claims.Subject,
		Roles:     claims.Roles,
		Scopes:    strings.Fields(claims.Scope),
		Companies: claims.Companies,
	}, nil
}

// verifyLocal checks one of this server's tokens: signature, type and
// claims, the client still active and the token not revoked. fresh skips
// the per-node caches (introspection must answer authoritatively).
func (s *Server) verifyLocal(ctx context.Context, raw string, fresh bool) (*accessClaims, error) {
	if raw == "" || len(raw) > maxTokenLen {
		return nil, errInvalidToken.Wrap(errors.New("empty or oversized token"))
	}
	now := s.clock.Now()
	claims, ok := s.verified.get(raw, now)
	if !ok || fresh {
		claims = &accessClaims{}
		var keyErr error
		_, err := s.parser.ParseWithClaims(raw, claims, s.keyFunc(ctx, &keyErr))
		if keyErr != nil {
			return nil, errCheckUnavailable.Wrap(keyErr)
		}
		if err != nil {
			if errors.Is(err, jwt.ErrTokenExpired) {
				return nil, errExpiredToken.Wrap(err)
			}
			return nil, errInvalidToken.Wrap(err)
		}
		s.verified.put(raw, claims, now)
	}
	var (
		active bool
		err    error
	)
	if fresh {
		active, err = s.lookupClientActive(ctx, claims.Subject)
	} else {
		active, err = s.clientActive(ctx, claims.Subject)
	}
	if err != nil {
		return nil, errCheckUnavailable.Wrap(err)
	}
	if !active {
		return nil, errRevokedClient.Wrap(fmt.Errorf("client %s is revoked or gone", claims.Subject))
	}
	revoked, err := s.revoked.isRevoked(ctx, claims.ID, now, fresh)
	if err != nil {
		return nil, errCheckUnavailable.Wrap(err)
	}
	if revoked {
		return nil, errRevokedToken.Wrap(fmt.Errorf("token %s is revoked", claims.ID))
	}
	return claims, nil
}

// keyFunc finds the key of one of our tokens. A database failure is put in
// *keyErr, so that it is told apart from a bad token.
func (s *Server) keyFunc(ctx context.Context, keyErr *error) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		// The algorithm was already checked against the allow-list
		// (WithValidMethods), never taken from the header as given.
		typ, _ := t.Header["typ"].(string)
		if !strings.EqualFold(typ, TokenType) && !strings.EqualFold(typ, "application/"+TokenType) {
			return nil, fmt.Errorf("typ %q is not %s", typ, TokenType)
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid")
		}
		pub, err := s.keys.verifier(ctx, kid)
		if err != nil {
			if !errors.Is(err, errUnknownKey) {
				*keyErr = err // the database failed, not the token
			}
			return nil, fmt.Errorf("kid %q: %w", kid, err)
		}
		return ed25519.PublicKey(pub), nil
	}
}

// The messages a client sees for a refused token. They say what to do, and
// never which check failed beyond expiry and revocation, which the holder
// needs to know to recover.
var (
	errInvalidToken  = apperr.New(apperr.Unauthenticated, "The access token is not valid; get a new one from the token endpoint.")
	errExpiredToken  = apperr.New(apperr.Unauthenticated, "The access token has expired; get a new one from the token endpoint.")
	errRevokedClient = apperr.New(apperr.Unauthenticated, "The access token's client has been revoked.")
	errRevokedToken  = apperr.New(apperr.Unauthenticated, "The access token has been revoked; get a new one from the token endpoint.")
	// errCheckUnavailable is a failure to check, not a bad token: 503, so
	// the client retries instead of discarding a good token.
	errCheckUnavailable = apperr.New(apperr.Unavailable, "Cannot check access tokens right now; try again shortly.")
)

// verifiedCache remembers tokens whose signature and claims checked out,
// so that a client's next requests with the same token skip the Ed25519
// verification (about 100 µs, the largest cost of a cached read). It
// holds a token at most verifiedTTL and never past its expiry; whether
// its client is active and the token unrevoked is still asked on every
// request, of their own caches. Keyed by the whole token: the same bytes
// carry the same, already verified, signature.
type verifiedCache struct {
	mu      sync.Mutex
	entries map[string]verifiedEntry
}

type verifiedEntry struct {
	claims      *accessClaims
	from, until time.Time // when it was checked; when to check again
}

// verifiedTTL bounds how long a checked token is trusted without a new
// check, so that a signing key withdrawn in an emergency stops verifying
// within it.
const verifiedTTL = time.Minute

func (c *verifiedCache) get(raw string, now time.Time) (*accessClaims, bool) {
	c.mu.Lock()
	e, ok := c.entries[raw]
	c.mu.Unlock()
	// A clock set back (or another node's, behind ours) checks again:
	// the token may not be valid yet by it.
	if !ok || !now.Before(e.until) || now.Before(e.from) {
		return nil, false
	}
	return e.claims, true
}

func (c *verifiedCache) put(raw string, claims *accessClaims, now time.Time) {
	until := now.Add(verifiedTTL)
	if claims.ExpiresAt == nil {
		return
	}
	if exp := claims.ExpiresAt.Time; exp.Before(until) {
		until = exp
	}
	c.mu.Lock()
	if len(c.entries) >= maxCachedClients {
		clear(c.entries)
	}
	c.entries[raw] = verifiedEntry{claims: claims, from: now, until: until}
	c.mu.Unlock()
}

// clientCache remembers for a few seconds whether a client is active, so
// that checking revocation costs a query per client per TTL rather than
// per request, while a revoked client's tokens still die within the TTL.
type clientCache struct {
	ttl     time.Duration // <= 0: no caching
	revoked <-chan struct{}

	mu      sync.Mutex
	entries map[string]clientEntry
}

type clientEntry struct {
	active    bool
	checkedAt time.Time
}

// maxCachedClients bounds the cache; past it the cache starts over, which
// costs a query per client once.
const maxCachedClients = 10000

func (s *Server) clientActive(ctx context.Context, clientID string) (bool, error) {
	c := s.clients
	now := s.clock.Now()
	c.mu.Lock()
	select {
	case <-c.revoked: // a revocation committed through our *db.DB
		clear(c.entries)
	default:
	}
	e, ok := c.entries[clientID]
	c.mu.Unlock()
	if ok && c.ttl > 0 && now.Sub(e.checkedAt) < c.ttl && !now.Before(e.checkedAt) {
		return e.active, nil
	}
	active, err := s.lookupClientActive(ctx, clientID)
	if err != nil {
		return false, err
	}
	if c.ttl > 0 {
		c.mu.Lock()
		if len(c.entries) >= maxCachedClients {
			clear(c.entries)
		}
		c.entries[clientID] = clientEntry{active: active, checkedAt: now}
		c.mu.Unlock()
	}
	return active, nil
}

func (s *Server) lookupClientActive(ctx context.Context, clientID string) (bool, error) {
	var revoked sql.NullTime
	err := s.db.QueryRowContext(ctx, `SELECT revoked_at FROM oauth_clients WHERE id = $1`, clientID).Scan(&revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check client %s: %w", clientID, err)
	}
	return !revoked.Valid, nil
}

func newClientCache(d *db.DB, ttl time.Duration) *clientCache {
	return &clientCache{ttl: ttl, revoked: d.Subscribe(RevokeClientTopic), entries: map[string]clientEntry{}}
}
