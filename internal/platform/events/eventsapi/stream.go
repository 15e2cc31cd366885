package eventsapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

// Hub wakes every open stream when the feed grows: one subscription to
// the sequencer however many streams are open, and a poll for events
// numbered on other nodes.
type Hub struct {
	mu   sync.Mutex
	ch   chan struct{}
	done chan struct{}
	once sync.Once
}

// NewHub starts a hub; Close stops it and ends every stream.
func NewHub(d *db.DB, poll time.Duration) *Hub {
	if poll <= 0 {
		poll = time.Second
	}
	h := &Hub{ch: make(chan struct{}), done: make(chan struct{})}
	sub := d.Subscribe(sequencer.SequencedTopic("outbox_events"))
	go func() {
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-sub:
			case <-t.C:
			}
			h.mu.Lock()
			close(h.ch)
			h.ch = make(chan struct{})
			h.mu.Unlock()
		}
	}()
	return h
}

// wait returns a channel closed at the next wake-up.
func (h *Hub) wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ch
}

// Close ends every stream (at server shutdown, so that open streams do
// not hold it up).
func (h *Hub) Close() { h.once.Do(func() { close(h.done) }) }

func stream(w http.ResponseWriter, r *http.Request, d *db.DB, hub *Hub, o Options) error {
	q := r.URL.Query()
	f, err := filterFor(r, q.Get("types"), q.Get("company_id"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	head, err := events.Head(ctx, d.Reader(ctx))
	if err != nil {
		return err
	}
	start := q.Get("after")
	param := "after"
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		start, param = id, "Last-Event-ID"
	}
	if start == "" {
		start = "now"
	}
	after, err := parseCursor(start, param, head)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	// retry tells EventSource how soon to reconnect.
	if _, err := fmt.Fprintf(bw, "retry: 2000\n: connected after %d\n\n", after); err != nil {
		return nil
	}
	flush := func() bool {
		return bw.Flush() == nil && rc.Flush() == nil
	}
	if !flush() {
		return nil
	}
	beat := time.NewTicker(o.Heartbeat)
	defer beat.Stop()
	const batch = 500
	for {
		wake := hub.wait()
		f.After, f.Upto, f.Limit = after, 0, batch
		evs, err := events.List(ctx, d.Reader(ctx), f)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Headers are sent: say why in the stream and end it; the
			// client reconnects with Last-Event-ID and loses nothing.
			fmt.Fprintf(bw, "event: error\ndata: %s\n\n", mustJSON(apperr.As(err).Message))
			flush()
			return nil
		}
		for _, ev := range evs {
			b, err := json.Marshal(ev)
			if err != nil {
				return nil
			}
			if _, err := fmt.Fprintf(bw, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, b); err != nil {
				return nil
			}
			after = ev.Seq
		}
		if len(evs) > 0 && !flush() {
			return nil
		}
		if len(evs) == batch {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-hub.done:
			return nil
		case <-wake:
		case <-beat.C:
			if _, err := bw.WriteString(": heartbeat " + strconv.FormatInt(after, 10) + "\n\n"); err != nil || !flush() {
				return nil
			}
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
