package db

import "sync"

// notifier wakes in-process workers after a commit. Wake-ups coalesce: a
// worker that is busy sees one pending signal, however many commits came.
// Workers also poll, so a wake-up lost to a crash or written by another
// node only delays them.
type notifier struct {
	mu   sync.Mutex
	subs map[string][]chan struct{}
}

// Subscribe returns a channel that receives a value after a transaction
// that called Notify(topic) commits.
func (d *DB) Subscribe(topic string) <-chan struct{} {
	d.notify.mu.Lock()
	defer d.notify.mu.Unlock()
	if d.notify.subs == nil {
		d.notify.subs = map[string][]chan struct{}{}
	}
	ch := make(chan struct{}, 1)
	d.notify.subs[topic] = append(d.notify.subs[topic], ch)
	return ch
}

// Signal wakes the subscribers of topic now.
func (d *DB) Signal(topic string) {
	d.notify.mu.Lock()
	defer d.notify.mu.Unlock()
	for _, ch := range d.notify.subs[topic] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Notify wakes the subscribers of topic once the transaction commits, and
// not at all if it rolls back.
func (tx *Tx) Notify(topic string) {
	for _, t := range tx.notified {
		if t == topic {
			return
		}
	}
	tx.notified = append(tx.notified, topic)
	tx.OnCommit(func() { tx.db.Signal(topic) })
}
