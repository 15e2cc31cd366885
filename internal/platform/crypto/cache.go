package crypto

import (
	"container/list"
	"time"
)

// lru is a bounded least-recently-used map whose entries also expire, so
// that a change made by another node (a rotation, a destroyed key) is seen
// within the TTL. It is not safe for concurrent use; the Keyring locks it.
type lru[V any] struct {
	max   int
	ttl   time.Duration
	order *list.List // front: most recently used
	items map[string]*list.Element
}

type lruEntry[V any] struct {
	key     string
	value   V
	expires time.Time
}

func newLRU[V any](max int, ttl time.Duration) *lru[V] {
	return &lru[V]{max: max, ttl: ttl, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru[V]) get(key string, now time.Time) (V, bool) {
	var zero V
	el, ok := c.items[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*lruEntry[V])
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, key)
		return zero, false
	}
	c.order.MoveToFront(el)
	return e.value, true
}

func (c *lru[V]) put(key string, value V, now time.Time) {
	if el, ok := c.items[key]; ok {
		e := el.Value.(*lruEntry[V])
		e.value, e.expires = value, now.Add(c.ttl)
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry[V]{key: key, value: value, expires: now.Add(c.ttl)})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruEntry[V]).key)
	}
}

func (c *lru[V]) remove(key string) {
	if el, ok := c.items[key]; ok {
		c.order.Remove(el)
		delete(c.items, key)
	}
}

// removeIf drops every entry whose value matches; used when an owner's
// keys are destroyed, which is rare enough for a full scan.
func (c *lru[V]) removeIf(match func(V) bool) {
	for key, el := range c.items {
		if match(el.Value.(*lruEntry[V]).value) {
			c.order.Remove(el)
			delete(c.items, key)
		}
	}
}

func (c *lru[V]) clear() {
	c.order.Init()
	clear(c.items)
}
