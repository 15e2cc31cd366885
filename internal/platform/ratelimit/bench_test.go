package ratelimit

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkAllow measures one Allow per iteration over 1000 clients with a
// quota they never exhaust, serially and from parallel goroutines.
func BenchmarkAllow(b *testing.B) {
	q := Quota{Limit: 1 << 30, Window: time.Minute}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = clientKey(ClassRead, "client-"+strconv.Itoa(i))
	}
	limiters := map[string]func(b *testing.B) Limiter{
		"memory": func(*testing.B) Limiter { return NewMemory() },
		"redis":  func(b *testing.B) Limiter { return newTestRedis(b, redisURL(b), testPrefix(b)) },
	}
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			l := limiters[name](b)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if _, err := l.Allow(ctx, keys[i%len(keys)], q); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(name+"-parallel", func(b *testing.B) {
			l := limiters[name](b)
			ctx := context.Background()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := l.Allow(ctx, keys[i%len(keys)], q); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}
