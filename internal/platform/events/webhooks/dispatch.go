package webhooks

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/clock"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/events/safehttp"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

// Options tune a Dispatcher; zero values take the defaults.
type Options struct {
	Clock   clock.Clock      // default: the database's clock
	Log     *slog.Logger     // default: discard
	Client  *safehttp.Client // default: safehttp.New with the service's AllowLoopback
	Lease   time.Duration    // how long a claimed delivery is ours; default 2 minutes
	Batch   int              // deliveries claimed per round; default 64
	Workers int              // concurrent requests; default 16
	Jitter  func() float64   // random source in [0,1) for retry jitter; default math/rand
	Fanout  int              // events fanned out per endpoint per transaction; default 500
}

// Dispatcher fans events out to endpoints and delivers them. Any number
// of dispatchers (one per node) may run against one database.
type Dispatcher struct {
	svc  *Service
	o    Options
	node string
	m    metrics
}

type metrics struct {
	attempts  *prometheus.CounterVec
	duration  prometheus.Histogram
	endToEnd  prometheus.Histogram
	delivered prometheus.Counter
}

// NewDispatcher returns a dispatcher for svc's endpoints.
func NewDispatcher(svc *Service, o Options) *Dispatcher {
	if o.Clock == nil {
		o.Clock = svc.DB.Clock()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = safehttp.New(safehttp.Options{AllowLoopback: svc.AllowLoopback})
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.Fanout <= 0 {
		o.Fanout = 500
	}
	return &Dispatcher{svc: svc, o: o, node: id.New("node"), m: metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mainstay_webhook_attempts_total", Help: "Webhook delivery attempts by outcome (succeeded, failed, gone, unreachable, not_permitted).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mainstay_webhook_attempt_seconds", Help: "Time from sending a webhook to its response.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		endToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mainstay_webhook_commit_to_delivery_seconds", Help: "Time from an event's commit to its successful delivery.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
		}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mainstay_webhook_delivered_total", Help: "Webhook deliveries that succeeded.",
		}),
	}}
}

// Collectors are the dispatcher's metrics, and the backlog read from the
// database at scrape time.
func (d *Dispatcher) Collectors() []prometheus.Collector {
	gauge := func(name, help, query string) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var n sql.NullInt64
			if err := d.svc.DB.Reader(ctx).QueryRowContext(ctx, query).Scan(&n); err != nil {
				return -1
			}
			return float64(n.Int64)
		})
	}
	return []prometheus.Collector{d.m.attempts, d.m.duration, d.m.endToEnd, d.m.delivered,
		gauge("mainstay_webhook_backlog", "Webhook deliveries waiting to be sent or retried.",
			"SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'"),
		gauge("mainstay_webhook_fanout_lag", "Events in the feed not yet fanned out to the furthest-behind enabled endpoint.",
			"SELECT (SELECT COALESCE(MAX(seq), 0) FROM outbox_events) - COALESCE(MIN(cursor_seq), (SELECT COALESCE(MAX(seq), 0) FROM outbox_events)) FROM webhook_endpoints WHERE enabled"),
	}
}

// Run delivers until ctx ends. Up to Workers requests are in flight at
// once, and as each is answered another due delivery is claimed, so a
// slow receiver holds up only its own deliveries; one goroutine records
// the answers in batches. New events are fanned out after every
// numbering pass of the feed in this process, and every poll besides
// (events numbered on another node, retries coming due).
func (d *Dispatcher) Run(ctx context.Context, poll time.Duration) {
	wake := d.svc.DB.Subscribe(sequencer.SequencedTopic("outbox_events"))
	t := time.NewTicker(poll)
	defer t.Stop()
	results := make(chan result, d.o.Workers)
	freed := make(chan struct{}, d.o.Workers)
	var recorded sync.WaitGroup
	recorded.Add(1)
	go func() {
		defer recorded.Done()
		d.recorder(results)
	}()
	var inflight sync.WaitGroup
	free, fan := d.o.Workers, true
	pruned := time.Time{}
	for ctx.Err() == nil {
		if now := time.Now(); now.Sub(pruned) > time.Hour {
			if n, err := d.Prune(ctx); err != nil && ctx.Err() == nil {
				d.o.Log.Error("prune webhook deliveries", "err", err)
			} else if n > 0 {
				d.o.Log.Info("pruned webhook deliveries", "deliveries", n)
			}
			pruned = now
		}
		if fan {
			if err := d.Fanout(ctx); err != nil && ctx.Err() == nil {
				d.o.Log.Error("webhook fan-out", "err", err)
			}
			fan = false
		}
		// Claim in chunks (half the workers, or all when idle): each claim
		// is a transaction, and one per delivery would cap the rate at the
		// database's commit rate.
		for (free >= max(1, d.o.Workers/2) || free == d.o.Workers) && ctx.Err() == nil {
			jobs, err := d.claimJobs(ctx, free)
			if err != nil {
				if ctx.Err() == nil {
					d.o.Log.Error("webhook claim", "err", err)
				}
				break
			}
			if len(jobs) == 0 {
				break
			}
			for _, j := range jobs {
				free--
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					out, err := d.attempt(ctx, j.e, j.ev, j.g)
					results <- result{c: j.c, e: j.e, ev: j.ev, out: out, err: err, done: err == nil}
					freed <- struct{}{}
				}()
			}
		}
		select {
		case <-ctx.Done():
		case <-wake:
			fan = true
		case <-t.C:
			fan = true
		case <-freed:
			free++
		}
	drain:
		for {
			select {
			case <-freed:
				free++
			default:
				break drain
			}
		}
	}
	inflight.Wait()
	close(results)
	recorded.Wait()
}

// Retention is how long succeeded deliveries (and their attempts) are
// kept for inspection. Failed and pending ones are kept until replayed
// or their endpoint is deleted.
const Retention = 30 * 24 * time.Hour

// Prune deletes succeeded deliveries older than Retention. Any node may:
// it is idempotent.
func (d *Dispatcher) Prune(ctx context.Context) (int64, error) {
	res, err := d.svc.DB.ExecContext(ctx, "DELETE FROM webhook_deliveries WHERE status = 'succeeded' AND completed_at < $1",
		d.o.Clock.Now().Add(-Retention))
	if err != nil {
		return 0, fmt.Errorf("prune webhook deliveries: %w", err)
	}
	return res.RowsAffected()
}

// recorder records answers as they come, in one transaction per batch of
// what is ready.
func (d *Dispatcher) recorder(results <-chan result) {
	for r := range results {
		batch := []result{r}
	more:
		for len(batch) < 256 {
			select {
			case r, ok := <-results:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		if err := d.record(context.Background(), batch); err != nil {
			// The leases expire and the deliveries are sent again.
			d.o.Log.Error("record webhook attempts", "err", err)
		}
	}
}

// RunOnce fans out what is new and sends one round of due deliveries,
// waiting for their answers and recording them. It returns how many
// deliveries it claimed. Tests drive delivery with it and a manual clock.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	if err := d.Fanout(ctx); err != nil {
		return 0, err
	}
	jobs, err := d.claimJobs(ctx, d.o.Batch)
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	results := make([]result, len(jobs))
	sem := make(chan struct{}, d.o.Workers)
	var wg sync.WaitGroup
	for i, j := range jobs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out, err := d.attempt(ctx, j.e, j.ev, j.g)
			results[i] = result{c: j.c, e: j.e, ev: j.ev, out: out, err: err, done: err == nil}
		}()
	}
	wg.Wait()
	return len(jobs), d.record(ctx, results)
}

// grant is an endpoint's owner's authority now.
type grant struct {
	p      auth.Principal
	ok     bool
	reason string
}

func (d *Dispatcher) authority(ctx context.Context, e Endpoint, cache map[string]grant) (grant, error) {
	if g, ok := cache[e.ID]; ok {
		return g, nil
	}
	p, ok, reason, err := auth.Authority(ctx, d.svc.DB.Reader(ctx), auth.Principal{ClientID: e.OwnerClientID, Scopes: e.ownerScopes, Companies: e.ownerCos})
	if err != nil {
		return grant{}, err
	}
	g := grant{p: p, ok: ok, reason: reason}
	cache[e.ID] = g
	return g, nil
}

// filter is what an endpoint receives now: the types its patterns select
// and its owner may read, in the companies both allow.
func filter(e Endpoint, g grant) (types, cos []string) {
	owner := g.p.Companies
	if len(owner) == 0 {
		owner = nil
	}
	return events.Select(e.EventTypes, g.p.Has), companies(owner, e.CompanyIDs)
}

// Fanout turns new events into deliveries for every enabled endpoint.
func (d *Dispatcher) Fanout(ctx context.Context) error {
	r := d.svc.DB.Reader(ctx)
	head, err := events.Head(ctx, r)
	if err != nil {
		return err
	}
	rows, err := r.QueryContext(ctx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE enabled AND cursor_seq < $1 ORDER BY id", head)
	if err != nil {
		return fmt.Errorf("fan out: %w", err)
	}
	eps, err := db.Collect(rows, scanEndpointRow)
	if err != nil {
		return fmt.Errorf("fan out: %w", err)
	}
	cache := map[string]grant{}
	for _, e := range eps {
		g, err := d.authority(ctx, e, cache)
		if err != nil {
			return err
		}
		if !g.ok {
			// Paused, not skipped: should the owner be restored, the
			// endpoint catches up from here.
			continue
		}
		types, cos := filter(e, g)
		if err := d.fanoutOne(ctx, e, head, types, cos); err != nil {
			return err
		}
	}
	return nil
}

func (d *Dispatcher) fanoutOne(ctx context.Context, e Endpoint, head int64, types, cos []string) error {
	err := events.Advance(ctx, d.svc.DB, e.cursor, head, events.Filter{Types: types, Companies: cos, Limit: d.o.Fanout},
		func(tx *db.Tx, page []events.Stored, from, to int64) (bool, error) {
			res, err := tx.ExecContext(ctx, "UPDATE webhook_endpoints SET cursor_seq = $1 WHERE id = $2 AND cursor_seq = $3", to, e.ID, from)
			if err != nil {
				return false, err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return false, err
			}
			return true, insertDeliveries(ctx, tx, e.ID, page, tx.Now())
		})
	if err != nil {
		return fmt.Errorf("fan out to %s: %w", e.ID, err)
	}
	return nil
}

func orderKey(ev events.Stored) string {
	if ev.Subject != "" {
		return ev.Subject
	}
	return ev.ID
}

// insertDeliveries adds a pending delivery per event, due now, keeping
// any that exists (fan-out after a crash, or a replay racing it).
func insertDeliveries(ctx context.Context, tx *db.Tx, endpointID string, evs []events.Stored, now time.Time) error {
	for start := 0; start < len(evs); start += 100 {
		chunk := evs[start:min(start+100, len(evs))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_seq, event_type, order_key, status, next_attempt_at, created_at) VALUES `)
		args := make([]any, 0, len(chunk)*6+1)
		args = append(args, now)
		for i, ev := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, $%d, $%d, 'pending', $1, $1)", n+1, n+2, n+3, n+4, n+5, n+6)
			args = append(args, id.New("whd"), endpointID, ev.ID, ev.Seq, ev.Type, orderKey(ev))
		}
		sb.WriteString(" ON CONFLICT (endpoint_id, event_id) DO NOTHING")
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("insert deliveries: %w", err)
		}
	}
	return markReady(ctx, tx, endpointID, evs)
}

// markReady makes, for each subject of evs, the earliest pending delivery
// to the endpoint the one ready to be sent, and the others wait: the
// claim then reads one index range, with no per-row check of what else
// is pending, however long the backlog.
func markReady(ctx context.Context, tx *db.Tx, endpointID string, evs []events.Stored) error {
	keys := make([]string, len(evs))
	for i, ev := range evs {
		keys[i] = orderKey(ev)
	}
	return markReadyKeys(ctx, tx, endpointID, keys)
}

func markReadyKeys(ctx context.Context, tx *db.Tx, endpointID string, keys []string) error {
	list := slices.Compact(slices.Sorted(slices.Values(keys)))
	for start := 0; start < len(list); start += 200 {
		chunk := list[start:min(start+200, len(list))]
		args := []any{endpointID}
		marks := make([]string, len(chunk))
		for i, k := range chunk {
			args = append(args, k)
			marks[i] = fmt.Sprintf("$%d", i+2)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET ready = (event_seq = (
  SELECT MIN(p.event_seq) FROM webhook_deliveries p
  WHERE p.endpoint_id = webhook_deliveries.endpoint_id AND p.order_key = webhook_deliveries.order_key AND p.status = 'pending'))
WHERE endpoint_id = $1 AND status = 'pending' AND order_key IN (`+strings.Join(marks, ", ")+`)`, args...); err != nil {
			return fmt.Errorf("mark deliveries ready: %w", err)
		}
	}
	return nil
}

type claimed struct {
	id, endpointID, eventID string
	cause                   string
	due                     time.Time
	seq                     int64
	key                     string
	attempts, step          int
	firstFailed             sql.NullTime
	lease                   time.Time
}

// claim leases up to n due deliveries. A delivery is due when its
// time has come, no live lease holds it, its endpoint is enabled, and no
// earlier delivery of the same resource to the same endpoint is still
// pending — which keeps each resource's events in order.
func (d *Dispatcher) claim(ctx context.Context, n int) ([]claimed, error) {
	now := d.o.Clock.Now()
	// Microseconds: PostgreSQL keeps no finer, and the lease is compared
	// when the attempt is recorded.
	lease := now.Add(d.o.Lease).Truncate(time.Microsecond)
	lock := ""
	if d.svc.DB.Engine() == db.Postgres {
		lock = " FOR UPDATE OF d SKIP LOCKED"
	}
	var out []claimed
	err := d.svc.DB.Transact(ctx, func(tx *db.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE webhook_deliveries SET lease_owner = $1, leased_until = $2
WHERE id IN (
  SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
  WHERE d.status = 'pending' AND d.ready AND d.next_attempt_at <= $3 AND (d.leased_until IS NULL OR d.leased_until < $3) AND e.enabled
  ORDER BY d.next_attempt_at, d.event_seq LIMIT $4`+lock+`)
RETURNING id, endpoint_id, event_id, attempts, step, first_failed_at, cause, next_attempt_at, event_seq, order_key`, d.node, lease, now, n)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c := claimed{lease: lease}
			if err := rows.Scan(&c.id, &c.endpointID, &c.eventID, &c.attempts, &c.step, &c.firstFailed, &c.cause, &c.due, &c.seq, &c.key); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	// RETURNING follows no order: restore the claim's, so a round is
	// recorded in the order its deliveries came due.
	sort.Slice(out, func(i, j int) bool {
		if !out[i].due.Equal(out[j].due) {
			return out[i].due.Before(out[j].due)
		}
		return out[i].seq < out[j].seq
	})
	return out, nil
}

// job is a claimed delivery with what sending it needs.
type job struct {
	c  claimed
	e  Endpoint
	ev events.Stored
	g  grant
}

// claimJobs claims up to n due deliveries and loads their events,
// endpoints and owners' authority.
func (d *Dispatcher) claimJobs(ctx context.Context, n int) ([]job, error) {
	batch, err := d.claim(ctx, n)
	if err != nil || len(batch) == 0 {
		return nil, err
	}
	ids := make([]string, len(batch))
	eps := map[string]Endpoint{}
	for i, c := range batch {
		ids[i] = c.eventID
		eps[c.endpointID] = Endpoint{}
	}
	r := d.svc.DB.Reader(ctx)
	evs, err := events.ByIDs(ctx, r, ids)
	if err != nil {
		return nil, err
	}
	cache := map[string]grant{}
	for epID := range eps {
		e, err := load(ctx, r, epID, false)
		if apperr.CodeOf(err) == apperr.NotFound {
			delete(eps, epID) // deleted since the claim; its deliveries went with it
			continue
		}
		if err != nil {
			return nil, err
		}
		eps[epID] = e
		if _, err := d.authority(ctx, e, cache); err != nil {
			return nil, err
		}
	}
	jobs := make([]job, 0, len(batch))
	for _, c := range batch {
		if e, ok := eps[c.endpointID]; ok {
			jobs = append(jobs, job{c: c, e: e, ev: evs[c.eventID], g: cache[c.endpointID]})
		}
	}
	return jobs, nil
}

// result is one delivery's attempt in a round.
type result struct {
	c    claimed
	e    Endpoint
	ev   events.Stored
	out  outcome
	err  error
	done bool // an attempt was made (or refused) and is to be recorded
}

// outcome of one attempt.
type outcome struct {
	status   int
	body     string
	err      string
	duration time.Duration
	kind     string // succeeded, failed, gone, unreachable, not_permitted
	at       time.Time
}

// attempt sends one delivery, unless the owner may no longer receive it.
func (d *Dispatcher) attempt(ctx context.Context, e Endpoint, ev events.Stored, g grant) (outcome, error) {
	var out outcome
	switch types, cos := filter(e, g); {
	case !g.ok:
		out = outcome{kind: "not_permitted", err: "not sent: " + g.reason}
	case ev.ID == "":
		out = outcome{kind: "not_permitted", err: "not sent: the event is no longer in the feed"}
	case !slices.Contains(types, ev.Type) || (cos != nil && !slices.Contains(cos, ev.CompanyID)):
		out = outcome{kind: "not_permitted", err: "not sent: the owning client may no longer receive " + ev.Type + " events of this company, or the endpoint no longer subscribes to them"}
	default:
		var err error
		if out, err = d.send(ctx, e, ev); err != nil {
			return outcome{}, err
		}
		if ctx.Err() != nil {
			return outcome{}, ctx.Err()
		}
	}
	out.at = d.o.Clock.Now()
	d.m.attempts.WithLabelValues(out.kind).Inc()
	return out, nil
}

// send POSTs the event, signed with every current secret of the endpoint.
func (d *Dispatcher) send(ctx context.Context, e Endpoint, ev events.Stored) (outcome, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return outcome{}, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return d.post(ctx, e, ev.ID, body)
}

func (d *Dispatcher) post(ctx context.Context, e Endpoint, msgID string, body []byte) (outcome, error) {
	now := d.o.Clock.Now()
	secrets, err := d.svc.secrets(ctx, e, now)
	if err != nil {
		return outcome{}, err
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return outcome{}, fmt.Errorf("endpoint %s secret: %w", e.ID, err)
		}
		sig, err := wh.Sign(msgID, now, body)
		if err != nil {
			return outcome{}, fmt.Errorf("sign %s: %w", msgID, err)
		}
		sigs = append(sigs, sig)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return outcome{kind: "unreachable", err: "bad URL: " + err.Error()}, nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Mainstay-Webhooks/1")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", strings.Join(sigs, " "))
	res, err := d.o.Client.Do(req)
	d.m.duration.Observe(res.Duration.Seconds())
	out := outcome{status: res.Status, body: truncate(res.Body, 1024), duration: res.Duration}
	switch {
	case err != nil && res.Status == 0:
		out.kind, out.err = "unreachable", errText(err)
	case res.Status >= 200 && res.Status < 300:
		out.kind = "succeeded"
	case res.Status == http.StatusGone:
		out.kind, out.err = "gone", "410 Gone: the receiver asked to stop"
	default:
		out.kind = "failed"
		out.err = fmt.Sprintf("answered %d", res.Status)
		if res.Status >= 300 && res.Status < 400 {
			out.err += " (redirects are not followed; register the final URL)"
		}
	}
	return out, nil
}

// errText keeps the part of a transport error that helps the receiver's
// owner (refused, timed out), without our internals.
func errText(err error) string {
	switch {
	case errors.Is(err, safehttp.ErrRefused):
		msg := err.Error()
		if i := strings.Index(msg, safehttp.ErrRefused.Error()); i >= 0 {
			msg = msg[i:]
		}
		return msg
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout"):
		return "timed out"
	}
	return truncate([]byte(err.Error()), 300)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
		return clean(string(b)) + "…"
	}
	return clean(string(b))
}

// clean makes text storable on both engines: valid UTF-8, and no NUL
// (PostgreSQL's text refuses it, and one receiver's odd answer must not
// stop the recording of everyone's deliveries).
func clean(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// record stores a round's attempts and moves each delivery on: done,
// retried later, or given up; and the endpoints' statuses with them.
// Deliveries not attempted (shutting down, or an error) are handed back
// for any node to claim at once.
func (d *Dispatcher) record(ctx context.Context, results []result) error {
	// The answers came: record them even if we are shutting down.
	ctx = context.WithoutCancel(ctx)
	err := d.recordAll(ctx, results)
	if err == nil || len(results) == 1 {
		return err
	}
	// One result the database refuses must not keep the others from
	// being recorded (they would be sent again and again): one by one.
	var errs []error
	for i := range results {
		if err := d.recordAll(ctx, results[i:i+1]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (d *Dispatcher) recordAll(ctx context.Context, results []result) error {
	return d.svc.DB.Transact(ctx, func(tx *db.Tx) error {
		if err := d.lockEndpoints(ctx, tx, results); err != nil {
			return err
		}
		// Endpoint statuses as they change during the round: a success
		// after a failure in the same round must see "failing".
		statuses := map[string]string{}
		for _, r := range results {
			if r.c.id == "" {
				continue
			}
			if !r.done {
				if r.err != nil && !errors.Is(r.err, context.Canceled) {
					d.o.Log.Error("webhook delivery", "delivery", r.c.id, "endpoint", r.e.ID, "err", r.err)
				}
				if _, err := tx.ExecContext(ctx, "UPDATE webhook_deliveries SET leased_until = NULL, lease_owner = '' WHERE id = $1 AND lease_owner = $2 AND leased_until = $3",
					r.c.id, d.node, r.c.lease); err != nil {
					return fmt.Errorf("release delivery %s: %w", r.c.id, err)
				}
				continue
			}
			if st, ok := statuses[r.e.ID]; ok {
				r.e.Status = st
			}
			if err := d.recordOne(ctx, tx, r.c, r.e, r.ev, r.out, statuses); err != nil {
				return err
			}
		}
		return nil
	})
}

// lockEndpoints takes the row locks of the round's endpoints before any
// delivery is touched, as fan-out does (it moves the endpoint's cursor
// first). Otherwise, on PostgreSQL, a fan-out adding a resource's next
// delivery and a recording completing its previous one each mark the
// next ready from a snapshot without the other's change, both conclude
// the other's delivery comes first, and the next one is never sent. In
// this order one waits for the other and reads what it committed; in
// id order, two recorders cannot deadlock. SQLite serializes writers.
func (d *Dispatcher) lockEndpoints(ctx context.Context, tx *db.Tx, results []result) error {
	if d.svc.DB.Engine() != db.Postgres {
		return nil
	}
	var ids []string
	for _, r := range results {
		if r.c.id != "" && r.done {
			ids = append(ids, r.e.ID)
		}
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT id FROM webhook_endpoints WHERE id = ANY($1) ORDER BY id FOR UPDATE", ids)
	if err != nil {
		return fmt.Errorf("lock endpoints: %w", err)
	}
	return rows.Close()
}

func (d *Dispatcher) recordOne(ctx context.Context, tx *db.Tx, c claimed, e Endpoint, ev events.Stored, out outcome, statuses map[string]string) error {
	now := out.at
	if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts
(id, delivery_id, attempted_at, duration_ms, status_code, response_body, error, succeeded, cause) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		id.New("wha"), c.id, now, out.duration.Milliseconds(), out.status, out.body, out.err, out.kind == "succeeded", c.cause); err != nil {
		return fmt.Errorf("record attempt: %w", err)
	}
	status, next, completed := DeliveryPending, now, sql.NullTime{}
	step, firstFailed := c.step, c.firstFailed
	switch out.kind {
	case "succeeded":
		status, completed = DeliverySucceeded, sql.NullTime{Time: now, Valid: true}
		firstFailed = sql.NullTime{}
	case "not_permitted":
		status, completed = DeliveryFailed, sql.NullTime{Time: now, Valid: true}
	case "gone":
		// The delivery waits, due at once, for the endpoint to be
		// enabled again.
	default:
		if !firstFailed.Valid {
			firstFailed = sql.NullTime{Time: now, Valid: true}
		}
		if step >= len(Schedule) {
			status, completed = DeliveryFailed, sql.NullTime{Time: now, Valid: true}
		} else {
			next = now.Add(jittered(Schedule[step], d.o.Jitter))
			step++
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, step = $2, next_attempt_at = $3,
first_failed_at = $4, completed_at = $5, last_status_code = $6, last_error = $7, lease_owner = '', leased_until = NULL, cause = 'schedule'
WHERE id = $8 AND lease_owner = $9 AND leased_until = $10`,
		status, step, next, firstFailed, completed, out.status, out.err, c.id, d.node, c.lease)
	if err != nil {
		return fmt.Errorf("update delivery %s: %w", c.id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// Our lease ran out and someone else holds the delivery (or a
		// replay reset it): the attempt is on record, the rest is theirs.
		return nil
	}
	if status != DeliveryPending {
		// The next event of the same resource may go now.
		if err := markReadyKeys(ctx, tx, e.ID, []string{c.key}); err != nil {
			return err
		}
	}
	if out.kind == "succeeded" {
		d.m.delivered.Inc()
		d.m.endToEnd.Observe(now.Sub(ev.Time).Seconds())
	}
	return d.endpointAfter(ctx, tx, e, out, firstFailed, now, statuses)
}

// endpointAfter updates the endpoint's status after an attempt: a 410
// disables it, a day of failures marks it failing, a success clears that.
func (d *Dispatcher) endpointAfter(ctx context.Context, tx *db.Tx, e Endpoint, out outcome, firstFailed sql.NullTime, now time.Time, statuses map[string]string) error {
	endpointID := e.ID
	set := func(from, to, reason, event string) error {
		if err := d.setStatus(ctx, tx, endpointID, from, to, reason, event, now); err != nil {
			return err
		}
		if from == "" || e.Status == from {
			statuses[endpointID] = to
		}
		return nil
	}
	switch out.kind {
	case "succeeded":
		if e.Status == StatusFailing {
			return set(StatusFailing, StatusActive, "", EventRecovered)
		}
		// Touch the row only when a minute passed, so that a busy
		// endpoint's deliveries do not queue on its row lock.
		_, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET last_success_at = $1
WHERE id = $2 AND (last_success_at IS NULL OR last_success_at < $3)`, now, endpointID, now.Add(-time.Minute))
		return err
	case "gone":
		return set("", StatusDisabled, "the receiver answered 410 Gone", EventDisabled)
	case "failed", "unreachable":
		if e.Status == StatusActive && firstFailed.Valid && now.Sub(firstFailed.Time) >= FailingAfter {
			return set(StatusActive, StatusFailing, "deliveries have failed since "+firstFailed.Time.UTC().Format(time.RFC3339)+": "+out.err, EventFailing)
		}
	}
	return nil
}

// setStatus moves an endpoint from status from ("" = any but to) to to,
// with its event, only when it is in from.
func (d *Dispatcher) setStatus(ctx context.Context, tx *db.Tx, endpointID, from, to, reason, event string, now time.Time) error {
	e, err := load(ctx, tx, endpointID, true)
	if err != nil {
		return err
	}
	if e.Status == to || (from != "" && e.Status != from) {
		return nil
	}
	e.Status, e.StatusReason = to, reason
	if to == StatusDisabled {
		e.Enabled = false
	}
	if to == StatusActive {
		e.LastSuccessAt = &now
		if _, err := tx.ExecContext(ctx, "UPDATE webhook_endpoints SET last_success_at = $1 WHERE id = $2", now, e.ID); err != nil {
			return err
		}
	}
	e.version++
	e.UpdatedAt = now
	if err := save(ctx, tx, e); err != nil {
		return err
	}
	d.o.Log.Info("webhook endpoint status", "endpoint", e.ID, "status", to, "reason", reason)
	return publish(ctx, tx, e, event, "webhook_endpoint."+to, map[string]any{"reason": reason})
}
