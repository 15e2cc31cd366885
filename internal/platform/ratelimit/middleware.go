package ratelimit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/httpx"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
)

// Header names of draft-ietf-httpapi-ratelimit-headers-10.
const (
	HeaderPolicy     = "RateLimit-Policy"
	HeaderRateLimit  = "RateLimit"
	HeaderRetryAfter = "Retry-After"
)

// Middleware limits each client per route class. It runs after
// authentication (it keys by reqctx.Actor, the authenticated client; a
// request without one, which a correct chain never lets through, is keyed
// by its source address) and before idempotency, so a refused request
// stores nothing. Every request that reaches it spends one unit, whatever
// its outcome. Every response carries the class's policy and state:
//
//	RateLimit-Policy: "write";q=120;w=60
//	RateLimit: "write";r=37;t=1
//
// where t is the seconds until the next request's worth of quota comes
// back. Over quota it answers 429 with Retry-After and a rate_limited
// problem. If the limiter fails (only a Redis limiter set to fail closed
// returns errors) it answers 503 with Retry-After: 1. A class whose quota
// is not Valid is not limited and gets no headers.
func Middleware(l Limiter, classify func(*http.Request) string, quota QuotaFunc, log *slog.Logger) func(http.Handler) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			class := classify(r)
			clientID := reqctx.Actor(r.Context())
			key := clientKey(class, clientID)
			if clientID == "" {
				key = addressKey(class, SourceAddress(r))
			}
			q := quota(clientID, class)
			if !q.Valid() {
				next.ServeHTTP(w, r)
				return
			}
			res, err := l.Allow(r.Context(), key, q)
			if err != nil {
				unavailable(w, r, log, err)
				return
			}
			setHeaders(w.Header(), item{class, q, res})
			if !res.Allowed {
				tooMany(w, r, log, class, q, res, clientID)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// TokenMiddleware limits the OAuth token endpoint twice: per source
// address (perAddress, checked first, so one host cannot guess secrets
// across many client ids), then per presented client id (perClient, so
// many hosts cannot guess one client's secret quickly). The client id is
// the one presented, not yet authenticated: HTTP Basic's user name, else
// the client_id of a form body, else the "sub" of a private_key_jwt
// client_assertion. The body is read once into a buffer and
// handed on intact, so the token handler parses it as usual.
//
// The source address is r.RemoteAddr's host; an IPv6 address counts by
// its /64, since one host commonly holds a whole /64. X-Forwarded-For is
// not trusted: anyone can send it. Behind a reverse proxy every request
// would come from the proxy, so the operator must either run a proxy that
// sets the client address itself (PROXY protocol, or a trusted-header
// middleware placed before this one that rewrites r.RemoteAddr) or have
// the proxy limit the token endpoint.
func TokenMiddleware(l Limiter, perClient, perAddress Quota, log *slog.Logger) func(http.Handler) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var items []item
			check := func(class, key, clientID string, q Quota) bool {
				res, err := l.Allow(r.Context(), key, q)
				if err != nil {
					unavailable(w, r, log, err)
					return false
				}
				items = append(items, item{class, q, res})
				if !res.Allowed {
					setHeaders(w.Header(), items...)
					tooMany(w, r, log, class, q, res, clientID)
					return false
				}
				return true
			}
			if perAddress.Valid() && !check(ClassTokenAddress, addressKey(ClassTokenAddress, SourceAddress(r)), "", perAddress) {
				return
			}
			if perClient.Valid() {
				if id := presentedClientID(r); id != "" && !check(ClassToken, clientKey(ClassToken, id), id, perClient) {
					return
				}
			}
			setHeaders(w.Header(), items...)
			next.ServeHTTP(w, r)
		})
	}
}

// maxFormBuffer is the most TokenMiddleware buffers to find a client_id;
// the token handler refuses larger forms anyway (16 KiB).
const maxFormBuffer = 16 << 10

// presentedClientID returns the client id a token request presents, or "".
// It leaves r.Body readable from the start.
func presentedClientID(r *http.Request) string {
	if user, _, ok := r.BasicAuth(); ok {
		// RFC 6749 §2.3.1: the id is form-encoded before base64.
		if id, err := url.QueryUnescape(user); err == nil {
			return id
		}
		return user
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" || r.Body == nil || r.Body == http.NoBody {
		return ""
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, maxFormBuffer+1))
	// Hand on what was read followed by whatever was not, so the handler
	// sees the same bytes and the same errors (413, a broken connection).
	r.Body = replayBody{Reader: io.MultiReader(bytes.NewReader(buf), r.Body), Closer: r.Body}
	if err != nil || len(buf) > maxFormBuffer {
		return ""
	}
	form, err := url.ParseQuery(string(buf))
	if err != nil {
		return ""
	}
	if id := form.Get("client_id"); id != "" {
		return id
	}
	// private_key_jwt (RFC 7523 §3) may name the client only in the
	// assertion, whose "sub" is the client id. It is read unverified: the
	// id only picks a bucket, and a forger merely spends that client's
	// budget for guesses, which is what the limit is for.
	if form.Get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return assertionSubject(form.Get("client_assertion"))
	}
	return ""
}

// assertionSubject returns the "sub" claim of a compact JWT, unverified.
func assertionSubject(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.Sub
}

type replayBody struct {
	io.Reader
	io.Closer
}

// SourceAddress is the address a request is limited by when no client is
// authenticated: r.RemoteAddr's host, an IPv6 one reduced to its /64.
func SourceAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return keyPart(host)
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

// ByMethod classifies GET and HEAD as read and every other method as
// write.
func ByMethod(r *http.Request) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return ClassRead
	}
	return ClassWrite
}

// Classify returns a classifier that puts the listed routes in the heavy
// class and the rest by method (ByMethod). A route is "[METHOD ]PATH"; a
// PATH ending in "/" covers everything under it: "POST /v1/batch",
// "/v1/reports/", "GET /v1/exports/".
func Classify(heavy ...string) func(*http.Request) string {
	type route struct{ method, path string }
	routes := make([]route, 0, len(heavy))
	for _, h := range heavy {
		method, path, ok := strings.Cut(strings.TrimSpace(h), " ")
		if !ok {
			method, path = "", method
		}
		routes = append(routes, route{method, strings.TrimSpace(path)})
	}
	return func(r *http.Request) string {
		for _, rt := range routes {
			if rt.method != "" && rt.method != r.Method {
				continue
			}
			if r.URL.Path == rt.path || (strings.HasSuffix(rt.path, "/") && strings.HasPrefix(r.URL.Path, rt.path)) {
				return ClassHeavy
			}
		}
		return ByMethod(r)
	}
}

// item is one policy's quota and state, for the headers.
type item struct {
	class string
	q     Quota
	res   Result
}

// setHeaders writes RateLimit-Policy and RateLimit as Structured Field
// lists (RFC 9651), one member per policy.
func setHeaders(h http.Header, items ...item) {
	if len(items) == 0 {
		return
	}
	var policy, state strings.Builder
	for i, it := range items {
		if i > 0 {
			policy.WriteString(", ")
			state.WriteString(", ")
		}
		name := sfString(it.class)
		fmt.Fprintf(&policy, "%s;q=%d;w=%d", name, it.q.Limit, ceilSeconds(it.q.Window))
		fmt.Fprintf(&state, "%s;r=%d", name, max(it.res.Remaining, 0))
		// t is optional; a full bucket gains nothing, so it has none.
		if it.res.Reset > 0 {
			fmt.Fprintf(&state, ";t=%d", ceilSeconds(it.res.Reset))
		}
	}
	h.Set(HeaderPolicy, policy.String())
	h.Set(HeaderRateLimit, state.String())
}

// sfString quotes s as a Structured Field String: printable ASCII, with
// '"' and '\' escaped; anything else is dropped.
func sfString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c <= 0x7e:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ceilSeconds rounds d up to whole seconds: a client that waits that long
// is never early.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

func tooMany(w http.ResponseWriter, r *http.Request, log *slog.Logger, class string, q Quota, res Result, clientID string) {
	retry := max(ceilSeconds(res.RetryAfter), 1)
	w.Header().Set(HeaderRetryAfter, strconv.FormatInt(retry, 10))
	log.DebugContext(r.Context(), "rate limited", "class", class, "client_id", clientID,
		"request_id", reqctx.RequestID(r.Context()), "retry_after_s", retry)
	httpx.WriteError(w, r, apperr.New(apperr.RateLimited,
		"Too many %s requests: the quota is %d per %d s. Retry in %d s.", class, q.Limit, ceilSeconds(q.Window), retry))
}

func unavailable(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	log.ErrorContext(r.Context(), "rate limiter unavailable; refusing request", "err", err,
		"request_id", reqctx.RequestID(r.Context()))
	w.Header().Set(HeaderRetryAfter, "1")
	httpx.WriteError(w, r, apperr.New(apperr.Unavailable, "Rate limiting is unavailable; retry shortly.").Wrap(err))
}

// ClassStatus is a client's budget in one class, as GET /v1/rate-limits
// reports it.
type ClassStatus struct {
	Class         string `json:"class" xml:"class"`
	Limit         int    `json:"limit" xml:"limit"`                   // requests per window
	WindowSeconds int64  `json:"window_seconds" xml:"window_seconds"` // the window
	Burst         int    `json:"burst" xml:"burst"`                   // most requests at once
	Remaining     int    `json:"remaining" xml:"remaining"`           // requests that could be sent now
	ResetSeconds  int64  `json:"reset_seconds" xml:"reset_seconds"`   // until one more comes back; 0 when full
}

// Budget is the body of GET /v1/rate-limits.
type Budget struct {
	Classes []ClassStatus `json:"classes" xml:"classes>i"`
}

// Status reports clientID's budget in every class of Classes without
// spending any of it. Classes whose quota is not Valid are left out.
func Status(ctx context.Context, l Limiter, quota QuotaFunc, clientID string) ([]ClassStatus, error) {
	out := make([]ClassStatus, 0, len(Classes))
	for _, class := range Classes {
		q := quota(clientID, class)
		if !q.Valid() {
			continue
		}
		res, err := l.Peek(ctx, clientKey(class, clientID), q)
		if err != nil {
			return nil, fmt.Errorf("rate limit status of %s: %w", class, err)
		}
		out = append(out, ClassStatus{
			Class: class, Limit: q.Limit, WindowSeconds: ceilSeconds(q.Window), Burst: q.burst(),
			Remaining: res.Remaining, ResetSeconds: ceilSeconds(res.Reset),
		})
	}
	return out, nil
}
