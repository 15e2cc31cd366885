package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the limiter whose counters live in Redis, so a quota holds
// across every node. A small Lua script runs the same GCRA as Memory
// atomically inside Redis, on Redis's clock (the nodes' clocks never
// matter), and stores one key per bucket that expires when the bucket is
// full again.
//
// It does not use redis_rate (go-redis/redis_rate/v10), although its
// algorithm is the same: redis_rate computes in floating-point seconds
// and truncates the remaining count, so for any interval that is not a
// binary fraction it under-reports by one (600/min: the first request
// reports 598 remaining, not 599; measured against Redis 7.0), which the
// RateLimit field would carry to clients and which would make the two
// limiters disagree. Its peek (spending 0) also writes. The script here
// keeps every value in integer microseconds, exact in a Lua double, and
// peeks read-only.
//
// If Redis fails (down, slow, refusing), the limiter by default fails
// OPEN: the request is allowed and a warning is logged, because a broken
// Redis must not take the API down with it; the database and the auth
// layer still protect the server, and the outage is loud in the log. With
// WithFailOpen(false) it returns the error instead, and the middleware
// answers 503 (the client did nothing wrong, so not 429).
type Redis struct {
	rdb      *redis.Client
	prefix   string
	failOpen bool
	timeout  time.Duration
	backoff  time.Duration
	log      *slog.Logger
	// downUntil (unix nanoseconds) is set after a failure: until then the
	// limiter does not call Redis, so an unreachable Redis costs each
	// request nothing instead of a timeout.
	downUntil atomic.Int64
	down      atomic.Bool
	lastLog   atomic.Int64 // unix nanoseconds of the last failure logged
}

// RedisOption configures NewRedis.
type RedisOption func(*Redis)

// WithFailOpen sets what happens when Redis fails: allow (true, the
// default) or return the error (false).
func WithFailOpen(open bool) RedisOption { return func(r *Redis) { r.failOpen = open } }

// WithLogger sets where Redis failures are logged (default slog.Default).
func WithLogger(l *slog.Logger) RedisOption { return func(r *Redis) { r.log = l } }

// WithPrefix sets the prefix of every key (default "mainstay:ratelimit:"),
// so several deployments or tests can share one Redis.
func WithPrefix(p string) RedisOption { return func(r *Redis) { r.prefix = p } }

// WithTimeout bounds each Redis call (default 250 ms): a slow Redis adds
// at most this to a request before the failure rule applies.
func WithTimeout(d time.Duration) RedisOption { return func(r *Redis) { r.timeout = d } }

// WithBackoff sets how long after a failure Redis is left alone before
// it is tried again (default 1 s).
func WithBackoff(d time.Duration) RedisOption { return func(r *Redis) { r.backoff = d } }

// NewRedis connects to the Redis at rawURL (redis://[user:pass@]host:port/db
// or rediss:// for TLS). It does not wait for Redis to answer: a Redis
// that is down at start-up is handled like one that goes down later.
func NewRedis(rawURL string, opts ...RedisOption) (*Redis, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: redis url: %w", err)
	}
	// Each call is bounded by its context; a retry of the script after a
	// lost reply could spend twice, and under failure we answer by rule
	// rather than wait, so retries are off unless the URL asks for them.
	opt.ContextTimeoutEnabled = true
	opt.DialerRetries = 1 // one dial per call; the backoff below spaces the next
	if u, err := url.Parse(rawURL); err == nil && !u.Query().Has("max_retries") {
		opt.MaxRetries = -1
	}
	r := &Redis{
		prefix:   "mainstay:ratelimit:",
		failOpen: true,
		timeout:  250 * time.Millisecond,
		backoff:  time.Second,
		log:      slog.Default(),
	}
	for _, o := range opts {
		o(r)
	}
	r.rdb = redis.NewClient(opt)
	return r, nil
}

// Ping checks that Redis answers, for start-up logs and readiness.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ratelimit: redis ping: %w", err)
	}
	return nil
}

// Close closes the connections.
func (r *Redis) Close() error {
	if err := r.rdb.Close(); err != nil {
		return fmt.Errorf("ratelimit: close redis: %w", err)
	}
	return nil
}

// Allow spends one request of key's bucket if it holds one.
func (r *Redis) Allow(ctx context.Context, key string, q Quota) (Result, error) {
	return r.do(ctx, key, q, 1)
}

// Peek reports key's bucket without spending. It never fails open: a
// budget it cannot read is an error, not a full bucket.
func (r *Redis) Peek(ctx context.Context, key string, q Quota) (Result, error) {
	return r.do(ctx, key, q, 0)
}

func (r *Redis) do(ctx context.Context, key string, q Quota, cost int) (Result, error) {
	if !q.Valid() {
		return Result{}, ErrInvalidQuota
	}
	if until := r.downUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		return r.failed(q, cost, errBackoff)
	}
	callCtx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	burst := q.burst()
	interval := max(q.Window.Microseconds()/int64(q.Limit), 1)
	v, err := gcraScript.Run(callCtx, r.rdb, []string{r.prefix + key}, interval, burst, cost).Int64Slice()
	if err == nil && len(v) != 4 {
		err = fmt.Errorf("script returned %d values, want 4", len(v))
	}
	if err != nil && ctx.Err() != nil {
		// The request itself ended (client gone): not a Redis failure.
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if err != nil {
		r.downUntil.Store(time.Now().Add(r.backoff).UnixNano())
		// Log when Redis goes down, then once a minute while it stays down,
		// so a long outage stays visible without a line per request.
		now := time.Now().UnixNano()
		if !r.down.Swap(true) || now-r.lastLog.Load() > int64(time.Minute) {
			r.lastLog.Store(now)
			if r.failOpen {
				r.log.Warn("rate limiter: redis failed; allowing requests without rate limits until it answers", "err", err)
			} else {
				r.log.Error("rate limiter: redis failed; refusing requests until it answers", "err", err)
			}
		}
		return r.failed(q, cost, fmt.Errorf("ratelimit: redis: %w", err))
	}
	if r.down.Swap(false) {
		r.downUntil.Store(0)
		r.log.Info("rate limiter: redis answers again; rate limits apply")
	}
	allowed, remaining := v[0] == 1, int(v[1])
	retry, fullIn := time.Duration(v[2])*time.Microsecond, time.Duration(v[3])*time.Microsecond
	out := Result{Limit: q.Limit, Remaining: remaining, Allowed: allowed}
	switch {
	case !allowed:
		out.RetryAfter, out.Reset = retry, retry
	case cost == 0:
		out.Allowed = remaining > 0
		out.Reset = nextUnit(fullIn, time.Duration(interval)*time.Microsecond, burst, remaining)
		if !out.Allowed {
			out.RetryAfter = out.Reset
		}
	default:
		out.Reset = nextUnit(fullIn, time.Duration(interval)*time.Microsecond, burst, remaining)
	}
	return out, nil
}

// gcraScript is GCRA over one key holding the bucket's theoretical
// arrival time (TAT) in microseconds of Redis's clock. ARGV: the interval
// in microseconds, the burst, and the cost (1 spends, 0 peeks without
// writing). It returns {allowed, remaining, retry_us, full_in_us}. Every
// number is an integer below 2^53, so Lua's doubles hold it exactly.
var gcraScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 7: TIME before a write
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local allow_at = tat + interval * cost - interval * burst
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
if cost > 0 then
  tat = tat + interval * cost
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000))
end
return {1, math.floor((now - allow_at) / interval), 0, tat - now}
`)

var errBackoff = errors.New("ratelimit: redis failed recently; not retried yet")

// failed answers by the failure rule. Failing open reports a full bucket:
// the real count is unknown, and clients must not back off for nothing.
func (r *Redis) failed(q Quota, cost int, err error) (Result, error) {
	if !r.failOpen || cost == 0 {
		return Result{}, err
	}
	return Result{Allowed: true, Limit: q.Limit, Remaining: q.burst()}, nil
}
