package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/clock"
)

// Memory is the in-process limiter: one node's counters. It is GCRA over a
// map from key to theoretical arrival time (TAT) rather than a
// rate.Limiter per key: one int64 per key, and a key whose TAT has passed
// holds a full bucket, exactly like an absent key, so evicting idle keys
// loses nothing. The map is sharded so concurrent requests of different
// clients rarely share a lock.
type Memory struct {
	clock   clock.Clock
	seed    maphash.Seed
	maxKeys int // per shard
	shards  [memoryShards]memoryShard
}

const (
	memoryShards = 32
	// sweepEvery is how often a shard drops its idle keys; between sweeps
	// idle keys cost memory, never correctness.
	sweepEvery = time.Minute
	// DefaultMaxKeys bounds the keys a Memory holds (about 100 bytes each).
	DefaultMaxKeys = 1 << 20
)

type memoryShard struct {
	mu        sync.Mutex
	tat       map[string]int64 // unix nanoseconds
	nextSweep int64
	_         [40]byte // one cache line per shard, so shards' locks do not contend
}

// MemoryOption configures NewMemory.
type MemoryOption func(*Memory)

// WithClock drives the limiter by c instead of the system clock (tests).
func WithClock(c clock.Clock) MemoryOption { return func(m *Memory) { m.clock = c } }

// WithMaxKeys bounds the number of keys held. When a sweep of idle keys
// cannot make room, arbitrary keys are dropped, which gives those clients
// a fresh bucket: under a flood of distinct keys the limiter degrades
// towards allowing rather than growing without bound.
func WithMaxKeys(n int) MemoryOption {
	return func(m *Memory) { m.maxKeys = max(n/memoryShards, 1) }
}

// NewMemory returns an in-process limiter.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{clock: clock.System{}, seed: maphash.MakeSeed(), maxKeys: DefaultMaxKeys / memoryShards}
	for _, o := range opts {
		o(m)
	}
	for i := range m.shards {
		m.shards[i].tat = make(map[string]int64)
	}
	return m
}

// Allow spends one request of key's bucket if it holds one.
func (m *Memory) Allow(_ context.Context, key string, q Quota) (Result, error) {
	return m.do(key, q, true)
}

// Peek reports key's bucket without spending.
func (m *Memory) Peek(_ context.Context, key string, q Quota) (Result, error) {
	return m.do(key, q, false)
}

func (m *Memory) do(key string, q Quota, spend bool) (Result, error) {
	if !q.Valid() {
		return Result{}, ErrInvalidQuota
	}
	now := m.clock.Now().UnixNano()
	s := &m.shards[maphash.String(m.seed, key)%memoryShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	tat, res := gcra(s.tat[key], now, q, spend)
	if spend && res.Allowed {
		if _, ok := s.tat[key]; !ok {
			s.makeRoom(now, m.maxKeys)
		}
		s.tat[key] = tat
	}
	if now >= s.nextSweep {
		s.sweep(now)
	}
	return res, nil
}

// sweep drops keys whose bucket has refilled. Caller holds mu.
func (s *memoryShard) sweep(now int64) {
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
	}
	s.nextSweep = now + int64(sweepEvery)
}

// makeRoom keeps the shard under its bound before a key is added. Caller
// holds mu.
func (s *memoryShard) makeRoom(now int64, limit int) {
	if len(s.tat) < limit {
		return
	}
	s.sweep(now)
	// Still full: drop an eighth, in map order, which Go randomises.
	for k := range s.tat {
		if len(s.tat) < limit-limit/8 {
			break
		}
		delete(s.tat, k)
	}
}

// len counts the keys held, for tests.
func (m *Memory) len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}

// gcra applies one request (spend) or none (peek) at now to a bucket whose
// theoretical arrival time is tat (0: never seen), and returns the new TAT
// and the result. The bucket holds burst requests; each request moves the
// TAT one interval later, and a request is allowed while the TAT stays
// within burst intervals of now.
func gcra(tat, now int64, q Quota, spend bool) (int64, Result) {
	interval := int64(q.interval())
	burst := q.burst()
	tau := interval * int64(burst)
	tat = max(tat, now)
	res := Result{Limit: q.Limit}
	if !spend {
		// Whole requests the bucket holds now.
		res.Remaining = int((now - (tat - tau)) / interval)
		res.Allowed = res.Remaining > 0
		res.Reset = nextUnit(time.Duration(tat-now), time.Duration(interval), burst, res.Remaining)
		if !res.Allowed {
			res.RetryAfter = res.Reset
		}
		return tat, res
	}
	newTAT := tat + interval
	allowAt := newTAT - tau
	if now < allowAt {
		res.RetryAfter = time.Duration(allowAt - now)
		res.Reset = res.RetryAfter
		return tat, res
	}
	res.Allowed = true
	res.Remaining = int((now - allowAt) / interval)
	res.Reset = nextUnit(time.Duration(newTAT-now), time.Duration(interval), burst, res.Remaining)
	return newTAT, res
}
