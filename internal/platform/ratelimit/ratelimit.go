// Package ratelimit keeps any one client from overwhelming the server
// (DESIGN §4, OWASP API4): a token bucket per client and route class,
// advertised on every response with the RateLimit-Policy and RateLimit
// fields of draft-ietf-httpapi-ratelimit-headers-10, and a 429 problem with
// Retry-After over quota.
//
// The bucket is GCRA (the generic cell rate algorithm), a token bucket that
// stores one timestamp per key: Quota{Limit: 120, Window: time.Minute}
// refills one request every 500 ms and holds at most Burst requests
// (Limit when Burst is 0), so a client may spend its whole minute at once
// and then one request per 500 ms. Two limiters implement it: Memory for
// one node (the default) and Redis, whose counters every node shares.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Route classes. A class is a lowercase token; it names the quota policy
// in the headers and in the budget endpoint.
const (
	ClassRead  = "read"  // GET and HEAD
	ClassWrite = "write" // every other method
	ClassHeavy = "heavy" // reports, exports, batches: the caller says which routes
	ClassToken = "token" // the OAuth token endpoint, per presented client id
	// ClassTokenAddress names the token endpoint's per-source-address
	// policy. It is not a per-client class, so Status does not list it.
	ClassTokenAddress = "token-address"
)

// Classes lists the per-client classes, in the order Status reports them.
var Classes = []string{ClassRead, ClassWrite, ClassHeavy, ClassToken}

// Quota is Limit requests per Window, of which at most Burst may be spent
// at once (0 means Limit). A quota with Limit or Window ≤ 0 is "no limit".
// Window should be whole seconds: the headers carry it in seconds.
type Quota struct {
	Limit  int
	Window time.Duration
	Burst  int
}

// Valid reports whether q limits anything.
func (q Quota) Valid() bool { return q.Limit > 0 && q.Window > 0 }

// burst is the bucket's capacity.
func (q Quota) burst() int {
	if q.Burst > 0 {
		return q.Burst
	}
	return q.Limit
}

// interval is the time one request's worth of quota takes to come back.
func (q Quota) interval() time.Duration {
	return max(q.Window/time.Duration(q.Limit), 1)
}

// String formats q as ParseQuota reads it.
func (q Quota) String() string {
	if !q.Valid() {
		return "off"
	}
	w := q.Window.String()
	switch {
	case q.Window%time.Hour == 0:
		w = strconv.Itoa(int(q.Window/time.Hour)) + "h"
	case q.Window%time.Minute == 0:
		w = strconv.Itoa(int(q.Window/time.Minute)) + "m"
	}
	s := strconv.Itoa(q.Limit) + "/" + w
	if q.Burst > 0 && q.Burst != q.Limit {
		s += ":" + strconv.Itoa(q.Burst)
	}
	return s
}

// ParseQuota reads "LIMIT/WINDOW[:BURST]" ("600/1m", "120/1m:30") or
// "off", for configuration options.
func ParseQuota(s string) (Quota, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return Quota{}, nil
	}
	limit, rest, ok := strings.Cut(s, "/")
	if !ok {
		return Quota{}, fmt.Errorf("quota %q: want LIMIT/WINDOW[:BURST], e.g. 600/1m or 120/1m:30, or off", s)
	}
	window, burst, hasBurst := strings.Cut(rest, ":")
	var q Quota
	var err error
	if q.Limit, err = strconv.Atoi(limit); err != nil || q.Limit <= 0 {
		return Quota{}, fmt.Errorf("quota %q: the limit must be a positive integer", s)
	}
	if q.Window, err = time.ParseDuration(window); err != nil || q.Window < time.Second || q.Window%time.Second != 0 {
		return Quota{}, fmt.Errorf("quota %q: the window must be whole seconds, at least 1s (e.g. 1m)", s)
	}
	if hasBurst {
		if q.Burst, err = strconv.Atoi(burst); err != nil || q.Burst <= 0 {
			return Quota{}, fmt.Errorf("quota %q: the burst must be a positive integer", s)
		}
	}
	return q, nil
}

// Default quotas. They bound one client, not the server: 600 reads a
// minute (10/s) covers a busy integration paging through lists; writes
// cost a transaction, an audit row and events each, so 120 a minute (2/s);
// heavy routes can scan a whole ledger, so 20 a minute. The token endpoint
// needs one call per token lifetime, so 30 a minute per client id is
// generous for a correct client and slow for a secret guesser; 60 a minute
// per source address stops one host guessing across many client ids. All
// burst their whole limit.
var (
	DefaultRead         = Quota{Limit: 600, Window: time.Minute}
	DefaultWrite        = Quota{Limit: 120, Window: time.Minute}
	DefaultHeavy        = Quota{Limit: 20, Window: time.Minute}
	DefaultToken        = Quota{Limit: 30, Window: time.Minute}
	DefaultTokenAddress = Quota{Limit: 60, Window: time.Minute}
)

// Result is the outcome of one check.
type Result struct {
	Allowed   bool
	Limit     int // the quota's Limit, for RateLimit-Policy
	Remaining int // requests that could be sent right now
	// Reset is how long until at least one more request's worth of quota
	// is available (the draft's "t"); 0 when the bucket is full.
	Reset time.Duration
	// RetryAfter is how long until this request would have been allowed;
	// 0 when it was.
	RetryAfter time.Duration
}

// Limiter counts requests per key. Allow spends one request of q's
// bucket for key; Peek reports the bucket without spending (for the budget
// endpoint). Both limiters here implement both exactly.
type Limiter interface {
	Allow(ctx context.Context, key string, q Quota) (Result, error)
	Peek(ctx context.Context, key string, q Quota) (Result, error)
}

// QuotaFunc returns the quota of a client for a class.
type QuotaFunc func(clientID, class string) Quota

// Policy is the quota table: defaults per class and per-client overrides.
// Its Quota method is the QuotaFunc the middleware and Status take.
type Policy struct {
	Defaults map[string]Quota
	// Override, when set, returns a client's own quota for a class (false:
	// use the default). It runs on every request, so it must be fast: a
	// map, or a cache in front of /v1/clients. Overrides of ClassToken are
	// ignored: at the token endpoint the client id is not yet
	// authenticated, so raising it would raise a guesser's budget too.
	Override func(clientID, class string) (Quota, bool)
}

// DefaultPolicy returns the default quotas, without overrides.
func DefaultPolicy() Policy {
	return Policy{Defaults: map[string]Quota{
		ClassRead:         DefaultRead,
		ClassWrite:        DefaultWrite,
		ClassHeavy:        DefaultHeavy,
		ClassToken:        DefaultToken,
		ClassTokenAddress: DefaultTokenAddress,
	}}
}

// Quota returns the quota of clientID for class. An override with an
// invalid quota (Limit 0) is treated as absent rather than as "no limit",
// so a half-filled record never silently lifts a limit.
func (p Policy) Quota(clientID, class string) Quota {
	if p.Override != nil && class != ClassToken && class != ClassTokenAddress {
		if q, ok := p.Override(clientID, class); ok && q.Valid() {
			return q
		}
	}
	return p.Defaults[class]
}

// StaticOverrides adapts a map of per-client quotas to Policy.Override.
// The map must not change afterwards; a store that changes should supply
// its own func.
func StaticOverrides(m map[string]map[string]Quota) func(clientID, class string) (Quota, bool) {
	return func(clientID, class string) (Quota, bool) {
		q, ok := m[clientID][class]
		return q, ok
	}
}

// ErrInvalidQuota is returned for a quota with no limit or window.
var ErrInvalidQuota = errors.New("ratelimit: quota needs a positive limit and window")

// maxKeyPart bounds how much of a caller-chosen string (a presented client
// id) goes into a key; longer ones are hashed so memory stays bounded.
const maxKeyPart = 128

func keyPart(s string) string {
	if len(s) <= maxKeyPart {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// clientKey is the bucket of a client for a class. The class comes first
// and holds no colon, so no client id can collide with another key.
func clientKey(class, clientID string) string { return class + ":client:" + keyPart(clientID) }

// addressKey is the bucket of a source address for a class.
func addressKey(class, addr string) string { return class + ":addr:" + addr }

// nextUnit is how long until a bucket gains its next whole request, given
// d, the time until it is full, and the whole requests it holds now.
func nextUnit(d, interval time.Duration, burst, remaining int) time.Duration {
	if d <= 0 || remaining >= burst {
		return 0
	}
	t := d - interval*time.Duration(burst-remaining-1)
	return min(max(t, 0), interval)
}
