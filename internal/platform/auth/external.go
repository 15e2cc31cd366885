package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/clock"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// How outside keys are fetched and kept.
const (
	// fetchTimeout bounds one metadata or JWKS request: a slow IdP must not
	// hold API requests for long.
	fetchTimeout = 5 * time.Second
	// maxFetchBytes caps a metadata or JWKS document; real ones are a few
	// KiB.
	maxFetchBytes = 1 << 20
	// jwksMinRefetch is the least time between two fetches of one issuer's
	// keys, so tokens with made-up kids cannot make us hammer the IdP.
	jwksMinRefetch = 30 * time.Second
	// jwksMaxAge is when cached keys are refetched even without an unknown
	// kid, so a key the IdP withdrew stops working here too. If the IdP is
	// down then, the cached keys keep working.
	jwksMaxAge = time.Hour
	// maxJWKSKeys bounds the keys read from one set.
	maxJWKSKeys = 100
)

// externalAlgs are the algorithms an outside token may use; each key
// narrows them to its own.
var externalAlgs = []string{algRS256, algES256, algEdDSA}

// The refusals of outside tokens that differ from our own tokens'.
var (
	errUnmapped        = apperr.New(apperr.Forbidden, "No role is mapped for this subject; ask an administrator to map its client or claims to a role.")
	errJWKSUnavailable = errors.New("the issuer's keys could not be fetched")
)

// trustedSet is a node's view of the trusted issuers: the table plus the
// command line, with each mapping's roles resolved to scopes. It is
// reread when stale (the client cache's lifetime) or when this node
// changes issuers or roles; the per-issuer key caches survive rereads.
type trustedSet struct {
	d        *db.DB
	clock    clock.Clock
	ttl      time.Duration
	cmdline  []string
	audience string // default audience of a command-line issuer with no row
	client   *http.Client
	changed  []<-chan struct{}

	mu       sync.Mutex
	loaded   bool
	loadedAt time.Time
	issuers  map[string]*trustedEntry
	jwks     map[string]*jwksCache // by issuer and JWKS URL
}

// trustedEntry is one trusted issuer, ready to verify with.
type trustedEntry struct {
	cfg      TrustedIssuer
	host     string
	mappings []resolvedMapping
	keys     *jwksCache
}

// resolvedMapping is a mapping with its roles' scopes. A role that does
// not resolve (a built-in role a newer binary dropped) makes the mapping
// grant nothing rather than part of what it said.
type resolvedMapping struct {
	Mapping
	scopes []string
	broken bool
}

func newTrustedSet(s *Server, cmdline []string) *trustedSet {
	return &trustedSet{
		d: s.db, clock: s.clock, ttl: s.clients.ttl, cmdline: cmdline, audience: s.audience,
		client:  fetchClient(),
		changed: []<-chan struct{}{s.db.Subscribe(TrustedIssuersChangedTopic), s.db.Subscribe(RolesChangedTopic)},
		jwks:    map[string]*jwksCache{},
	}
}

// fetchClient fetches metadata and keys: bounded in time, and never
// following a redirect to plain HTTP off the loopback.
func fetchClient() *http.Client {
	return &http.Client{
		Timeout: fetchTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			if req.URL.Scheme != "https" && !isLoopbackHost(req.URL.Hostname()) {
				return errors.New("redirect to plain http")
			}
			return nil
		},
	}
}

// lookup returns the trusted issuer iss, if it is one.
func (t *trustedSet) lookup(ctx context.Context, iss string) (*trustedEntry, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ch := range t.changed {
		select {
		case <-ch:
			t.loaded = false
		default:
		}
	}
	now := t.clock.Now()
	if !t.loaded || t.ttl <= 0 || now.Sub(t.loadedAt) >= t.ttl || now.Before(t.loadedAt) {
		if err := t.reloadLocked(ctx, now); err != nil {
			return nil, false, err
		}
	}
	e, ok := t.issuers[iss]
	return e, ok, nil
}

func (t *trustedSet) reloadLocked(ctx context.Context, now time.Time) error {
	list, err := ListTrustedIssuers(ctx, t.d)
	if err != nil {
		return err
	}
	for _, iss := range t.cmdline {
		if !slices.ContainsFunc(list, func(ti TrustedIssuer) bool { return ti.Issuer == iss }) {
			// Trusted on the command line with no row: tokens verify, but
			// with no mapping every subject gets 403 until one is added.
			list = append(list, TrustedIssuer{Issuer: iss, Audience: t.audience, Mappings: []Mapping{}})
		}
	}
	roleList, err := ListRoles(ctx, t.d)
	if err != nil {
		return err
	}
	roleScopes := make(map[string][]string, len(roleList))
	for _, r := range roleList {
		roleScopes[r.Name] = r.Scopes
	}
	issuers := make(map[string]*trustedEntry, len(list))
	jwks := make(map[string]*jwksCache, len(list))
	for _, ti := range list {
		u, err := url.Parse(ti.Issuer)
		if err != nil {
			continue // validated on the way in; skip rather than fail all
		}
		e := &trustedEntry{cfg: ti, host: u.Host}
		for _, m := range ti.Mappings {
			rm := resolvedMapping{Mapping: m}
			var scopes []string
			for _, r := range m.Roles {
				s, ok := roleScopes[r]
				if !ok {
					rm.broken = true
				}
				scopes = append(scopes, s...)
			}
			rm.scopes = canonical(scopes)
			e.mappings = append(e.mappings, rm)
		}
		key := ti.Issuer + " " + ti.JWKSURL
		e.keys = t.jwks[key]
		if e.keys == nil {
			e.keys = &jwksCache{issuer: ti.Issuer, configured: ti.JWKSURL, client: t.client, clock: t.clock}
		}
		jwks[key] = e.keys
		issuers[ti.Issuer] = e
	}
	t.issuers, t.jwks, t.loaded, t.loadedAt = issuers, jwks, true, now
	return nil
}

// match returns the first mapping that matches the token's claims.
func (e *trustedEntry) match(claims jwt.MapClaims) *resolvedMapping {
	client := ""
	for _, name := range []string{"client_id", "azp", "sub"} {
		if s, ok := claims[name].(string); ok && s != "" {
			client = s
			break
		}
	}
	for i := range e.mappings {
		m := &e.mappings[i]
		if m.ClientID != "" {
			if client == m.ClientID {
				return m
			}
			continue
		}
		if claimHas(claimValue(claims, m.Claim), m.Value) {
			return m
		}
	}
	return nil
}

// claimValue returns the claim named name, or, when there is none, the
// value at name read as a dotted path into nested objects.
func claimValue(claims jwt.MapClaims, name string) any {
	if v, ok := claims[name]; ok {
		return v
	}
	var cur any = map[string]any(claims)
	for part := range strings.SplitSeq(name, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[part]
	}
	return cur
}

// claimHas reports whether a claim equals want, or contains it when the
// claim is an array. Booleans and numbers compare by their JSON text.
func claimHas(v any, want string) bool {
	switch v := v.(type) {
	case string:
		return v == want
	case bool:
		return strconv.FormatBool(v) == want
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64) == want
	case []any:
		for _, x := range v {
			if !isArray(x) && claimHas(x, want) {
				return true
			}
		}
	}
	return false
}

func isArray(v any) bool { _, ok := v.([]any); return ok }

// externalTypOK accepts the types outside issuers put on access tokens:
// RFC 9068's at+jwt, or the plain JWT (or none) that many IdPs still use.
// Anything else explicitly typed (an ID token, a logout token…) is not an
// access token and is refused.
func externalTypOK(typ string) bool {
	switch strings.ToLower(typ) {
	case "", "jwt", "at+jwt", "application/at+jwt":
		return true
	}
	return false
}

// verifyExternal checks a token from a trusted issuer and maps its subject
// to a Principal. Bad tokens are Unauthenticated; a good token no mapping
// covers is Forbidden; keys that cannot be fetched at all are Unavailable.
func (s *Server) verifyExternal(ctx context.Context, raw string, e *trustedEntry) (Principal, error) {
	claims := jwt.MapClaims{}
	var keyErr error
	parser := jwt.NewParser(
		jwt.WithValidMethods(externalAlgs),
		jwt.WithIssuer(e.cfg.Issuer),
		jwt.WithAudience(e.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(func() time.Time { return s.clock.Now() }),
	)
	_, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		typ, _ := t.Header["typ"].(string)
		if !externalTypOK(typ) {
			return nil, fmt.Errorf("typ %q is not an access token", typ)
		}
		kid, _ := t.Header["kid"].(string)
		k, err := e.keys.key(ctx, kid)
		if err != nil {
			if errors.Is(err, errJWKSUnavailable) {
				keyErr = err
			}
			return nil, fmt.Errorf("issuer %s, kid %q: %w", e.cfg.Issuer, kid, err)
		}
		// The key decides the algorithm; a header naming another one (an
		// RSA key's token "signed" with HS256, say) is refused.
		if t.Method.Alg() != k.alg {
			return nil, fmt.Errorf("alg %s does not match key %s (%s)", t.Method.Alg(), k.kid, k.alg)
		}
		return k.key, nil
	})
	if keyErr != nil {
		return Principal{}, apperr.New(apperr.Unavailable, "Cannot check this issuer's access tokens right now; try again shortly.").Wrap(err)
	}
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Principal{}, errExpiredToken.Wrap(err)
		}
		return Principal{}, errInvalidToken.Wrap(err)
	}
	sub, _ := claims["sub"].(string)
	if sub == "" || len(sub) > maxOutsideSubject || !printable(sub) {
		return Principal{}, errInvalidToken.Wrap(fmt.Errorf("issuer %s: missing or unusable sub", e.cfg.Issuer))
	}
	m := e.match(claims)
	if m == nil {
		return Principal{}, errUnmapped.Wrap(fmt.Errorf("issuer %s: no mapping for sub %q", e.cfg.Issuer, sub))
	}
	if m.broken {
		return Principal{}, errUnmapped.Wrap(fmt.Errorf("issuer %s: the mapping for sub %q names a role that no longer exists", e.cfg.Issuer, sub))
	}
	return Principal{
		ClientID:  "ext:" + e.host + ":" + sub,
		Roles:     slices.Clone(m.Roles),
		Scopes:    slices.Clone(m.scopes),
		Companies: slices.Clone(m.Companies),
	}, nil
}

// peekIssuer returns a JWT's "iss" without verifying anything, to choose
// which checks apply; "" if it has none or is not a JWT.
func peekIssuer(raw string) string {
	first := strings.IndexByte(raw, '.')
	if first < 0 {
		return ""
	}
	rest := raw[first+1:]
	second := strings.IndexByte(rest, '.')
	if second < 0 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(rest[:second])
	if err != nil {
		return ""
	}
	var c struct {
		Iss any `json:"iss"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	iss, _ := c.Iss.(string)
	return iss
}

// jwksCache holds one outside issuer's verification keys. They are fetched
// on first use, again when a token names a kid not in the set (a
// rotation), and when older than jwksMaxAge; never more often than
// jwksMinRefetch.
type jwksCache struct {
	issuer     string
	configured string // the JWKS URL configured, "" to discover
	client     *http.Client
	clock      clock.Clock

	// mu is held across a fetch on purpose: concurrent requests wait for
	// one fetch instead of each making their own.
	mu        sync.Mutex
	jwksURL   string
	keys      []verifyKey // nil until a fetch succeeds
	fetchedAt time.Time
	triedAt   time.Time
	tried     bool
	lastErr   error
}

// key returns the key a token's kid names (or, for a token without a kid,
// the set's only key).
func (c *jwksCache) key(ctx context.Context, kid string) (verifyKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	canFetch := !c.tried || now.Sub(c.triedAt) >= jwksMinRefetch || now.Before(c.triedAt)
	if canFetch && (c.keys == nil || now.Sub(c.fetchedAt) >= jwksMaxAge) {
		c.refreshLocked(ctx, now)
		canFetch = false
	}
	if c.keys == nil {
		return verifyKey{}, fmt.Errorf("%w: %w", errJWKSUnavailable, c.lastErr)
	}
	k, ok := c.findLocked(kid)
	if !ok && canFetch {
		c.refreshLocked(ctx, now)
		k, ok = c.findLocked(kid)
	}
	if !ok {
		return verifyKey{}, errUnknownKey
	}
	return k, nil
}

func (c *jwksCache) findLocked(kid string) (verifyKey, bool) {
	if kid == "" {
		if len(c.keys) == 1 {
			return c.keys[0], true
		}
		return verifyKey{}, false
	}
	for _, k := range c.keys {
		if k.kid == kid {
			return k, true
		}
	}
	return verifyKey{}, false
}

// refreshLocked fetches the keys; on failure the keys already held stay.
func (c *jwksCache) refreshLocked(ctx context.Context, now time.Time) {
	c.tried, c.triedAt = true, now
	keys, err := c.fetch(ctx)
	if err != nil {
		c.lastErr = err
		return
	}
	c.keys, c.fetchedAt, c.lastErr = keys, now, nil
}

func (c *jwksCache) fetch(ctx context.Context) ([]verifyKey, error) {
	// Detached from the request: one caller hanging up must not fail the
	// fetch every waiting request (and the next 30 s) depends on.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	if c.jwksURL == "" {
		c.jwksURL = c.configured
	}
	if c.jwksURL == "" {
		u, err := discoverJWKS(ctx, c.client, c.issuer)
		if err != nil {
			return nil, err
		}
		c.jwksURL = u
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, c.client, c.jwksURL, &set); err != nil {
		if c.configured == "" {
			c.jwksURL = "" // discover again next time: the IdP may have moved it
		}
		return nil, err
	}
	var keys []verifyKey
	for i, rawKey := range set.Keys {
		if i == maxJWKSKeys {
			break
		}
		var j jsonWebKey
		if json.Unmarshal(rawKey, &j) != nil {
			continue
		}
		// Keys this server cannot or will not use (encryption keys, other
		// algorithms) are skipped; the rest of the set still counts.
		k, err := parseJWK(j, true)
		if err != nil || slices.ContainsFunc(keys, func(x verifyKey) bool { return x.kid == k.kid }) {
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS %s has no usable signing key", c.jwksURL)
	}
	return keys, nil
}

// discoverJWKS finds an issuer's jwks_uri in its OpenID Connect discovery
// document, else in its RFC 8414 metadata. The document must name the
// same issuer (OpenID Connect Discovery §4.3), so one IdP cannot hand out
// another's keys.
func discoverJWKS(ctx context.Context, client *http.Client, issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return "", fmt.Errorf("issuer %q: %w", issuer, err)
	}
	candidates := []string{
		strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration",
		// RFC 8414 §3.1 puts the well-known segment before the path.
		u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + strings.TrimRight(u.Path, "/"),
	}
	var errs []error
	for _, c := range candidates {
		var meta struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := getJSON(ctx, client, c, &meta); err != nil {
			errs = append(errs, err)
			continue
		}
		if meta.Issuer != issuer {
			errs = append(errs, fmt.Errorf("%s names issuer %q, not %q", c, meta.Issuer, issuer))
			continue
		}
		if err := checkOutsideURL(meta.JWKSURI, true); err != nil {
			errs = append(errs, fmt.Errorf("%s: jwks_uri: %w", c, err))
			continue
		}
		return meta.JWKSURI, nil
	}
	return "", fmt.Errorf("discover the keys of %s: %w", issuer, errors.Join(errs...))
}

// getJSON fetches a JSON document of at most maxFetchBytes.
func getJSON(ctx context.Context, client *http.Client, rawURL string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", rawURL, err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", rawURL, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4<<10))
		return fmt.Errorf("GET %s: status %d", rawURL, res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxFetchBytes+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", rawURL, err)
	}
	if len(body) > maxFetchBytes {
		return fmt.Errorf("GET %s: more than %d bytes", rawURL, maxFetchBytes)
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(dst); err != nil {
		return fmt.Errorf("GET %s: %w", rawURL, err)
	}
	return nil
}
