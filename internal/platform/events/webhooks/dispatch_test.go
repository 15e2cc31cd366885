package webhooks_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/events/webhooks"
)

func TestScheduleIsDocumented(t *testing.T) {
	want := []time.Duration{10 * time.Second, 40 * time.Second, 160 * time.Second, 640 * time.Second, 2560 * time.Second,
		10240 * time.Second, 40960 * time.Second, 20 * time.Hour, 20 * time.Hour, 20 * time.Hour}
	if !slices.Equal(webhooks.Schedule, want) {
		t.Fatalf("Schedule = %v, want %v", webhooks.Schedule, want)
	}
	var total time.Duration
	for _, d := range webhooks.Schedule {
		total += d
	}
	if days := total.Hours() / 24; days < 3.0 || days > 3.2 {
		t.Fatalf("the schedule spans %.2f days, want about 3.1", days)
	}
}

// A receiver that always answers 500 is tried at t0 and after each wait
// of the schedule, never earlier; after the 11th attempt the delivery is
// failed; after a day of failures the endpoint is failing (with its
// event), and a later success makes it active again (with its event).
func TestRetrySchedule(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.recv.setAnswer(status(http.StatusInternalServerError))
		ep := e.endpoint(typeOrder)
		disp := e.dispatcher()
		evID := e.write(typeOrder, "ord_1")[0]

		e.run(disp)
		if e.recv.n() != 1 || !e.recv.all()[0].at.Equal(t0) {
			t.Fatalf("first attempt: %d requests", e.recv.n())
		}
		due := t0
		for i, wait := range webhooks.Schedule {
			e.clk.Advance(wait - time.Second)
			e.run(disp)
			if n := e.recv.n(); n != i+1 {
				t.Fatalf("attempt %d came before its time (%v after the previous one, wait is %v)", i+2, wait-time.Second, wait)
			}
			e.clk.Advance(time.Second)
			due = due.Add(wait)
			e.run(disp)
			hits := e.recv.all()
			if len(hits) != i+2 {
				t.Fatalf("at %v after t0: %d attempts, want %d", due.Sub(t0), len(hits), i+2)
			}
			if last := hits[len(hits)-1]; !last.at.Equal(due) || last.webhookID != evID {
				t.Fatalf("attempt %d at %v with id %s, want at %v with %s", i+2, last.at, last.webhookID, due, evID)
			}
			st := e.get(ep.ID).Status
			wantStatus := webhooks.StatusActive
			if due.Sub(t0) >= webhooks.FailingAfter {
				wantStatus = webhooks.StatusFailing
			}
			if st != wantStatus {
				t.Fatalf("after attempt %d (%v after the first failure) the endpoint is %q, want %q", i+2, due.Sub(t0), st, wantStatus)
			}
		}
		if span := due.Sub(t0); span.Hours()/24 < 3 || span.Hours()/24 > 3.2 {
			t.Fatalf("retries spanned %v", span)
		}
		dl := e.delivery(ep.ID, evID)
		if dl.Status != webhooks.DeliveryFailed || dl.AttemptCount != 11 || dl.CompletedAt == nil || dl.LastStatusCode != 500 {
			t.Fatalf("delivery after 11 attempts: %+v", dl)
		}
		if len(dl.Attempts) != 11 {
			t.Fatalf("%d attempts listed, want 11", len(dl.Attempts))
		}
		// Nothing more, however long we wait.
		e.clk.Advance(30 * 24 * time.Hour)
		e.run(disp)
		if n := e.recv.n(); n != 11 {
			t.Fatalf("%d requests after giving up, want 11", n)
		}
		if got := e.feedEvents(webhooks.EventFailing, ep.ID); len(got) != 1 {
			t.Fatalf("%d %s events, want 1", len(got), webhooks.EventFailing)
		}
		got := e.get(ep.ID)
		if got.StatusReason == "" || !got.Enabled {
			t.Fatalf("failing endpoint: %+v (failures never disable or delete it)", got)
		}

		// The receiver is back; a replay succeeds and the endpoint recovers.
		e.recv.setAnswer(nil)
		res, err := e.svc.Replay(e.ctx, ep.ID, webhooks.ReplayInput{EventID: evID}, disp.Authority(e.ctx))
		if err != nil || res.Queued != 1 {
			t.Fatalf("replay: %+v, %v", res, err)
		}
		e.run(disp)
		if n := e.recv.n(); n != 12 {
			t.Fatalf("%d requests, want 12", n)
		}
		if got := e.get(ep.ID); got.Status != webhooks.StatusActive || got.LastSuccessAt == nil {
			t.Fatalf("after a success the endpoint is %+v, want active", got)
		}
		if got := e.feedEvents(webhooks.EventRecovered, ep.ID); len(got) != 1 {
			t.Fatalf("%d %s events, want 1", len(got), webhooks.EventRecovered)
		}
		if dl := e.delivery(ep.ID, evID); dl.Status != webhooks.DeliverySucceeded {
			t.Fatalf("replayed delivery: %+v", dl)
		}
		checkIDs(t, e.recv.all())
	})
}

// Jitter stays within ±20% of the schedule.
func TestRetryJitterBounds(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.recv.setAnswer(status(http.StatusServiceUnavailable))
		e.endpoint(typeOrder)
		low := e.dispatcher(func(o *webhooks.Options) { o.Jitter = func() float64 { return 0 } })
		e.write(typeOrder, "ord_1")
		e.run(low)
		// 0.8 × 10s = 8s.
		e.clk.Advance(8*time.Second - time.Millisecond)
		e.run(low)
		if e.recv.n() != 1 {
			t.Fatal("retried before 0.8 × the wait")
		}
		e.clk.Advance(time.Millisecond)
		e.run(low)
		if e.recv.n() != 2 {
			t.Fatalf("%d requests, want a retry at 0.8 × 10s", e.recv.n())
		}
		// Almost 1.2 × 40s = 48s.
		high := e.dispatcher(func(o *webhooks.Options) { o.Jitter = func() float64 { return 0.999999 } })
		e.recv.setAnswer(status(http.StatusServiceUnavailable))
		e.write(typeOrder, "ord_2")
		e.clk.Advance(0)
		e.run(high) // ord_2's first attempt fails; retry due in ~12s
		if e.recv.n() != 3 {
			t.Fatalf("%d requests", e.recv.n())
		}
		e.clk.Advance(11900 * time.Millisecond)
		e.run(high)
		if e.recv.n() != 3 {
			t.Fatal("ord_2 retried before 1.19 × 10s")
		}
		e.clk.Advance(100 * time.Millisecond)
		e.run(high)
		if e.recv.n() != 4 {
			t.Fatalf("%d requests, want ord_2's retry at just under 1.2 × 10s", e.recv.n())
		}
	})
}

// The fault test: the receiver fails (503, then not listening at
// all) while 50 events of 10 resources are written, and comes back. Every
// event arrives, each under its own id only, each resource's in order.
func TestReceiverDownThenBack(t *testing.T) {
	for _, mode := range []string{"503", "refused"} {
		t.Run(mode, func(t *testing.T) {
			engines(t, func(t *testing.T, e *env) {
				ep := e.endpoint(typeOrder)
				disp := e.dispatcher()
				if mode == "503" {
					e.recv.setAnswer(status(http.StatusServiceUnavailable))
				} else {
					e.recv.stop()
				}
				var subjects []string
				for i := range 50 {
					subjects = append(subjects, fmt.Sprintf("ord_%d", i%10))
				}
				ids := e.write(typeOrder, subjects...)
				order := map[string][]string{} // subject → ids in write order
				for i, s := range subjects {
					order[s] = append(order[s], ids[i])
				}
				e.run(disp)
				for _, wait := range webhooks.Schedule[:4] {
					e.clk.Advance(wait)
					e.run(disp)
				}
				if n := e.pending(); n != 50 {
					t.Fatalf("%d pending while the receiver is down, want 50", n)
				}
				failures := e.recv.n()
				if mode == "503" && failures != 50 {
					// 10 heads × (1 + 4 retries): only each resource's first
					// event is tried while it fails.
					t.Fatalf("%d requests while down, want 50 (10 resources × 5 attempts)", failures)
				}
				if mode == "refused" {
					if failures != 0 {
						t.Fatalf("a stopped receiver got %d requests", failures)
					}
					dl := e.delivery(ep.ID, ids[0])
					if dl.AttemptCount != 5 || dl.LastStatusCode != 0 || dl.LastError == "" {
						t.Fatalf("delivery to a stopped receiver: %+v", dl)
					}
					e.recv.start()
				}
				e.recv.setAnswer(nil)
				e.clk.Advance(webhooks.Schedule[4])
				e.run(disp)
				if n := e.pending(); n != 0 {
					t.Fatalf("%d deliveries still pending", n)
				}
				hits := e.recv.all()
				checkIDs(t, hits)
				got := succeeded(hits)
				for _, id := range ids {
					if got[id] != 1 {
						t.Errorf("event %s accepted %d times, want once", id, got[id])
					}
				}
				if len(got) != len(ids) {
					t.Errorf("%d distinct ids accepted, want %d", len(got), len(ids))
				}
				// Per resource, every request (failed ones too) follows the
				// write order: an event is never sent before the previous
				// one of its resource was accepted.
				arrived := map[string][]string{}
				for _, h := range hits {
					s := h.event.Subject
					if a := arrived[s]; len(a) == 0 || a[len(a)-1] != h.webhookID {
						arrived[s] = append(arrived[s], h.webhookID)
					}
				}
				for s, want := range order {
					if !slices.Equal(arrived[s], want) {
						t.Errorf("subject %s arrived as %v, want %v", s, arrived[s], want)
					}
				}
			})
		})
	}
}

// A 410 disables the endpoint; its delivery waits and nothing more is
// sent; re-enabling it delivers that event and those written meanwhile.
func TestGoneDisablesThenReenableLosesNothing(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ep := e.endpoint(typeOrder)
		disp := e.dispatcher()
		e.recv.setAnswer(status(http.StatusGone))
		first := e.write(typeOrder, "ord_1")
		e.run(disp)
		if e.recv.n() != 1 {
			t.Fatalf("%d requests", e.recv.n())
		}
		got := e.get(ep.ID)
		if got.Enabled || got.Status != webhooks.StatusDisabled || !strings.Contains(got.StatusReason, "410") {
			t.Fatalf("after 410: %+v", got)
		}
		if evs := e.feedEvents(webhooks.EventDisabled, ep.ID); len(evs) != 1 {
			t.Fatalf("%d %s events", len(evs), webhooks.EventDisabled)
		}
		if dl := e.delivery(ep.ID, first[0]); dl.Status != webhooks.DeliveryPending || dl.LastStatusCode != 410 {
			t.Fatalf("delivery after 410: %+v", dl)
		}
		later := e.write(typeOrder, "ord_2", "ord_1", "ord_3")
		for range 3 {
			e.clk.Advance(time.Hour)
			e.run(disp)
		}
		if n := e.recv.n(); n != 1 {
			t.Fatalf("a disabled endpoint was sent %d more requests", n-1)
		}

		e.recv.setAnswer(nil)
		on := true
		if _, err := e.svc.Update(e.ctx, ep.ID, nil, webhooks.Patch{Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		e.run(disp)
		hits := e.recv.all()
		checkIDs(t, hits)
		acc := succeeded(hits)
		for _, id := range append(first, later...) {
			if acc[id] != 1 {
				t.Errorf("event %s accepted %d times after re-enabling, want once", id, acc[id])
			}
		}
		if got := e.get(ep.ID); !got.Enabled || got.Status != webhooks.StatusActive {
			t.Fatalf("re-enabled endpoint: %+v", got)
		}
		if n := e.pending(); n != 0 {
			t.Fatalf("%d pending", n)
		}
		// ord_1's two events in order.
		var ord1 []string
		for _, h := range hits[1:] {
			if h.event.Subject == "ord_1" {
				ord1 = append(ord1, h.webhookID)
			}
		}
		if !slices.Equal(ord1, []string{first[0], later[1]}) {
			t.Fatalf("ord_1 arrived as %v", ord1)
		}
	})
}

// A resource's second event waits for its first, which is being retried;
// another resource is not held up.
func TestPerResourceOrderUnderRetry(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.endpoint(typeOrder)
		disp := e.dispatcher()
		var failOnce sync.Map
		ids := e.write(typeOrder, "A", "A", "B")
		a1 := ids[0]
		e.recv.setAnswer(func(h hit) int {
			if h.webhookID == a1 {
				if _, done := failOnce.LoadOrStore(h.webhookID, true); !done {
					return http.StatusServiceUnavailable
				}
			}
			return http.StatusOK
		})
		a2, b1 := ids[1], ids[2]
		e.run(disp)
		acc := succeeded(e.recv.all())
		if acc[b1] != 1 {
			t.Fatal("B1 was held up by A1's failure")
		}
		for _, h := range e.recv.all() {
			if h.webhookID == a2 {
				t.Fatal("A2 was sent while A1 was still pending")
			}
		}
		e.clk.Advance(5 * time.Second)
		e.run(disp)
		for _, h := range e.recv.all() {
			if h.webhookID == a2 {
				t.Fatal("A2 was sent while A1 was waiting for its retry")
			}
		}
		e.clk.Advance(5 * time.Second)
		e.run(disp)
		var seq []string
		for _, h := range e.recv.all() {
			if h.event.Subject == "A" {
				seq = append(seq, fmt.Sprintf("%s:%d", h.webhookID, h.status))
			}
		}
		want := []string{a1 + ":503", a1 + ":200", a2 + ":200"}
		if !slices.Equal(seq, want) {
			t.Fatalf("A's requests: %v, want %v", seq, want)
		}
		if n := e.pending(); n != 0 {
			t.Fatalf("%d pending", n)
		}
	})
}

// Two dispatchers (two nodes) on one database deliver 200 events
// concurrently: each exactly once.
func TestTwoNodesDeliverEachEventOnce(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.endpoint(typeOrder)
		var subjects []string
		for i := range 200 {
			subjects = append(subjects, fmt.Sprintf("ord_%d", i%50))
		}
		ids := e.write(typeOrder, subjects...)
		nodes := []*webhooks.Dispatcher{e.dispatcher(), e.dispatcher()}
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, len(nodes))
		claimed := make([]int, len(nodes))
		for i, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				idle := 0
				for idle < 3 {
					c, err := n.RunOnce(e.ctx)
					if err != nil {
						errs <- err
						return
					}
					claimed[i] += c
					if c == 0 {
						idle++
						time.Sleep(5 * time.Millisecond)
					} else {
						idle = 0
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		e.run(nodes[0])
		hits := e.recv.all()
		checkIDs(t, hits)
		acc := succeeded(hits)
		for _, id := range ids {
			if acc[id] != 1 {
				t.Errorf("event %s delivered %d times", id, acc[id])
			}
		}
		if len(hits) != len(ids) {
			t.Errorf("%d requests for %d events", len(hits), len(ids))
		}
		if claimed[0]+claimed[1] != len(ids) {
			t.Errorf("claims %v add up to %d, want %d", claimed, claimed[0]+claimed[1], len(ids))
		}
		t.Logf("claims per node: %v", claimed)
		if n := e.pending(); n != 0 {
			t.Fatalf("%d pending", n)
		}
	})
}

// A node dies holding a lease (its request never completes): another
// node delivers the event once the lease has expired, not before, and the
// dead node's late answer changes nothing.
func TestCrashedNodesLeaseExpires(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ep := e.endpoint(typeOrder)
		release := make(chan struct{})
		var once sync.Once
		t.Cleanup(func() { once.Do(func() { close(release) }) })
		var calls int
		var mu sync.Mutex
		e.recv.setAnswer(func(h hit) int {
			mu.Lock()
			calls++
			first := calls == 1
			mu.Unlock()
			if first {
				<-release // the dead node's request: answered after all
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		id := e.write(typeOrder, "ord_1")[0]
		dead := e.dispatcher()
		deadDone := make(chan error, 1)
		go func() {
			_, err := dead.RunOnce(e.ctx)
			deadDone <- err
		}()
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return calls == 1 })

		other := e.dispatcher()
		e.clk.Advance(59 * time.Second)
		if n, err := other.RunOnce(e.ctx); err != nil || n != 0 {
			t.Fatalf("claimed %d (%v) under a live lease", n, err)
		}
		e.clk.Advance(2 * time.Second)
		if n, err := other.RunOnce(e.ctx); err != nil || n != 1 {
			t.Fatalf("claimed %d (%v) after the lease expired, want 1", n, err)
		}
		dl := e.delivery(ep.ID, id)
		if dl.Status != webhooks.DeliverySucceeded {
			t.Fatalf("delivery: %+v", dl)
		}
		once.Do(func() { close(release) })
		if err := <-deadDone; err != nil {
			t.Fatal(err)
		}
		dl = e.delivery(ep.ID, id)
		if dl.Status != webhooks.DeliverySucceeded || dl.AttemptCount != 1 {
			t.Fatalf("after the dead node's late 500: %+v", dl)
		}
		hits := e.recv.all()
		checkIDs(t, hits)
		if len(hits) != 2 || hits[0].webhookID != hits[1].webhookID {
			t.Fatalf("requests: %d, want 2 under one webhook-id", len(hits))
		}
		e.clk.Advance(time.Hour)
		e.run(other)
		if e.recv.n() != 2 {
			t.Fatal("sent again after success")
		}
	})
}

// A node shutting down mid-request gives its delivery back at once.
func TestShutdownGivesLeaseBack(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ep := e.endpoint(typeOrder)
		var mu sync.Mutex
		calls := 0
		e.recv.setAnswer(func(h hit) int {
			mu.Lock()
			calls++
			first := calls == 1
			mu.Unlock()
			if first {
				time.Sleep(300 * time.Millisecond) // the client has gone by then
			}
			return http.StatusOK
		})
		id := e.write(typeOrder, "ord_1")[0]
		ctx, cancel := context.WithCancel(e.ctx)
		first := e.dispatcher()
		done := make(chan error, 1)
		go func() {
			_, err := first.RunOnce(ctx)
			done <- err
		}()
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return calls == 1 })
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Fatal(err)
		}
		if dl := e.delivery(ep.ID, id); dl.Status != webhooks.DeliveryPending || dl.AttemptCount != 0 {
			t.Fatalf("after shutdown mid-request: %+v", dl)
		}
		// No clock movement: the lease was given back.
		e.run(e.dispatcher())
		if dl := e.delivery(ep.ID, id); dl.Status != webhooks.DeliverySucceeded {
			t.Fatalf("delivery: %+v", dl)
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// During a rotation both secrets sign; after the overlap only the new one.
func TestSecretRotation(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ep := e.endpoint(typeOrder)
		disp := e.dispatcher()
		verify := func(h hit, secret string) error {
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			return wh.VerifyIgnoringTimestamp(h.body, h.header)
		}
		e.write(typeOrder, "ord_1")
		e.run(disp)
		h := e.recv.all()[0]
		if err := verify(h, ep.Secret); err != nil {
			t.Fatalf("before rotation: %v", err)
		}
		if ts := h.header.Get("webhook-timestamp"); ts != fmt.Sprint(t0.Unix()) {
			t.Errorf("webhook-timestamp %s, want the clock's %d", ts, t0.Unix())
		}

		rot, err := e.svc.Rotate(e.ctx, ep.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if rot.Secret == ep.Secret || rot.PreviousSecretExpiresAt == nil {
			t.Fatalf("rotation: %+v", rot.Endpoint)
		}
		e.clk.Advance(30 * time.Minute)
		e.write(typeOrder, "ord_2")
		e.run(disp)
		h = e.recv.all()[1]
		if sigs := strings.Fields(h.header.Get("webhook-signature")); len(sigs) != 2 {
			t.Fatalf("during rotation: %d signatures, want 2", len(sigs))
		}
		for name, s := range map[string]string{"old": ep.Secret, "new": rot.Secret} {
			if err := verify(h, s); err != nil {
				t.Errorf("during rotation the %s secret does not verify: %v", name, err)
			}
		}

		e.clk.Advance(31 * time.Minute)
		e.write(typeOrder, "ord_3")
		e.run(disp)
		h = e.recv.all()[2]
		if sigs := strings.Fields(h.header.Get("webhook-signature")); len(sigs) != 1 {
			t.Fatalf("after rotation: %d signatures, want 1", len(sigs))
		}
		if err := verify(h, rot.Secret); err != nil {
			t.Errorf("the new secret does not verify: %v", err)
		}
		if err := verify(h, ep.Secret); err == nil {
			t.Error("the old secret still verifies after the overlap ended")
		}
		// A tampered body verifies with neither.
		bad := h
		bad.body = append([]byte(nil), h.body...)
		bad.body[len(bad.body)-2] ^= 1
		if err := verify(bad, rot.Secret); err == nil {
			t.Error("a tampered body verifies")
		}
	})
}

func TestReplay(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ep := e.endpoint(typeOrder)
		disp := e.dispatcher()
		auth := disp.Authority(e.ctx)
		var ids []string
		for i := range 3 {
			e.clk.Advance(time.Minute)
			ids = append(ids, e.write(typeOrder, fmt.Sprintf("ord_%d", i))...)
		}
		other := e.write(typeOther, "quote_1")[0]
		e.run(disp)
		if e.recv.n() != 3 {
			t.Fatalf("%d requests", e.recv.n())
		}

		t.Run("by event", func(t *testing.T) {
			before := e.recv.n()
			res, err := e.svc.Replay(e.ctx, ep.ID, webhooks.ReplayInput{EventID: ids[0]}, auth)
			if err != nil || res.Queued != 1 {
				t.Fatalf("%+v, %v", res, err)
			}
			e.run(disp)
			hits := e.recv.all()[before:]
			if len(hits) != 1 || hits[0].webhookID != ids[0] {
				t.Fatalf("replay sent %d requests", len(hits))
			}
			checkIDs(t, hits)
			dl := e.delivery(ep.ID, ids[0])
			if dl.Status != webhooks.DeliverySucceeded || dl.AttemptCount != 2 || len(dl.Attempts) != 2 {
				t.Fatalf("replayed delivery: %+v", dl)
			}
			causes := []string{dl.Attempts[0].Cause, dl.Attempts[1].Cause}
			slices.Sort(causes)
			if !slices.Equal(causes, []string{"replay", "schedule"}) {
				t.Fatalf("attempt causes %v", causes)
			}
		})

		t.Run("by time range", func(t *testing.T) {
			before := e.recv.n()
			since, until := t0.Add(2*time.Minute), t0.Add(3*time.Minute)
			res, err := e.svc.Replay(e.ctx, ep.ID, webhooks.ReplayInput{Since: &since, Until: &until}, auth)
			if err != nil || res.Queued != 1 {
				t.Fatalf("%+v, %v (want the one event at +2m; until is exclusive)", res, err)
			}
			e.run(disp)
			hits := e.recv.all()[before:]
			if len(hits) != 1 || hits[0].webhookID != ids[1] {
				var got []string
				for _, h := range hits {
					got = append(got, h.webhookID)
				}
				t.Fatalf("replayed %v, want [%s]", got, ids[1])
			}
			// Open-ended: from +2m to now.
			e.clk.Advance(time.Second)
			before = e.recv.n()
			res, err = e.svc.Replay(e.ctx, ep.ID, webhooks.ReplayInput{Since: &since}, auth)
			if err != nil || res.Queued != 2 {
				t.Fatalf("%+v, %v", res, err)
			}
			e.run(disp)
			got := map[string]bool{}
			for _, h := range e.recv.all()[before:] {
				got[h.webhookID] = true
			}
			if len(got) != 2 || !got[ids[1]] || !got[ids[2]] || got[other] {
				t.Fatalf("replayed %v", got)
			}
		})

		t.Run("not received", func(t *testing.T) {
			_, err := e.svc.Replay(e.ctx, ep.ID, webhooks.ReplayInput{EventID: other}, auth)
			if apperr.CodeOf(err) != apperr.Invalid {
				t.Fatalf("err = %v, want invalid", err)
			}
			if f := apperr.As(err).Fields; len(f) != 1 || f[0].Pointer != "/event_id" {
				t.Fatalf("fields %+v", f)
			}
			_, err = e.svc.Replay(e.ctx, ep.ID, webhooks.ReplayInput{EventID: "evt_nope"}, auth)
			if apperr.CodeOf(err) != apperr.Invalid {
				t.Fatalf("unknown event: %v", err)
			}
		})
	})
}

// Revoking the owning client stops fan-out, and its pending deliveries
// end failed with a "not sent" error, without any request.
func TestRevokedOwnerStopsDeliveries(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ep := e.endpoint(typeOrder)
		disp := e.dispatcher()
		first := e.write(typeOrder, "ord_1", "ord_2")
		if err := disp.Fanout(e.ctx); err != nil {
			t.Fatal(err)
		}
		if n := e.pending(); n != 2 {
			t.Fatalf("%d pending after fan-out", n)
		}
		if err := auth.RevokeClient(e.ctx, e.d, e.client.ID); err != nil {
			t.Fatal(err)
		}
		later := e.write(typeOrder, "ord_3")
		e.run(disp)
		e.clk.Advance(time.Hour)
		e.run(disp)
		if n := e.recv.n(); n != 0 {
			t.Fatalf("%d requests for a revoked owner", n)
		}
		for _, id := range first {
			dl := e.delivery(ep.ID, id)
			if dl.Status != webhooks.DeliveryFailed || !strings.HasPrefix(dl.LastError, "not sent") || dl.LastStatusCode != 0 {
				t.Fatalf("delivery after revocation: %+v", dl)
			}
		}
		if n := e.count("SELECT COUNT(*) FROM webhook_deliveries WHERE event_id = $1", later[0]); n != 0 {
			t.Fatalf("an event written after revocation was fanned out (%d deliveries)", n)
		}
		if n := e.pending(); n != 0 {
			t.Fatalf("%d pending", n)
		}
	})
}

// The owner's scopes and companies filter what the endpoint receives: a
// sales client's endpoint subscribed to everything never receives payroll
// events, nor events of companies the client does not work in.
func TestOwnerScopesFilter(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.endpoint("mainstay.test.*")
		disp := e.dispatcher()
		ids := e.write(typeOrder, "ord_1")
		e.write(typePayroll, "slip_1")
		ids = append(ids, e.write(typeOther, "quote_1")...)
		// Another company's event, and a company-less one: the owner works
		// in one company only.
		for _, co := range []string{"co_other", ""} {
			err := e.d.Transact(e.ctx, func(tx *db.Tx) error {
				_, err := events.Record(e.ctx, tx, events.Event{Type: typeOrder, Subject: "ord_x", CompanyID: co, Data: map[string]any{}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		e.assign()
		e.run(disp)
		hits := e.recv.all()
		var got []string
		for _, h := range hits {
			got = append(got, h.webhookID)
		}
		slices.Sort(got)
		slices.Sort(ids)
		if !slices.Equal(got, ids) {
			t.Fatalf("received %v, want %v (no payroll)", got, ids)
		}
	})
}

// The production loop: one or two nodes running Run deliver every event
// exactly once, each resource's in order, and stop cleanly.
func TestRunLoop(t *testing.T) {
	for _, nodes := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d nodes", nodes), func(t *testing.T) {
			engines(t, func(t *testing.T, e *env) {
				e.endpoint(typeOrder)
				var subjects []string
				for i := range 120 {
					subjects = append(subjects, fmt.Sprintf("ord_%d", i%12))
				}
				ctx, cancel := context.WithCancel(e.ctx)
				var wg sync.WaitGroup
				for range nodes {
					disp := e.dispatcher(func(o *webhooks.Options) { o.Workers = 4 })
					wg.Add(1)
					go func() {
						defer wg.Done()
						disp.Run(ctx, 5*time.Millisecond)
					}()
				}
				ids := e.write(typeOrder, subjects...)
				deadline := time.Now().Add(15 * time.Second)
				for (len(succeeded(e.recv.all())) < len(ids) || e.pending() > 0) && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				cancel()
				stopped := make(chan struct{})
				go func() { wg.Wait(); close(stopped) }()
				select {
				case <-stopped:
				case <-time.After(5 * time.Second):
					t.Fatal("Run did not return after its context ended")
				}
				hits := e.recv.all()
				checkIDs(t, hits)
				acc := succeeded(hits)
				for _, id := range ids {
					if acc[id] != 1 {
						t.Errorf("event %s accepted %d times", id, acc[id])
					}
				}
				if n := e.pending(); n != 0 {
					t.Errorf("%d pending", n)
				}
				pos := map[string]int{}
				for i, id := range ids {
					pos[id] = i
				}
				last := map[string]int{}
				for _, h := range hits {
					s := h.event.Subject
					if p, seen := last[s]; seen && pos[h.webhookID] < p {
						t.Errorf("subject %s: event #%d arrived after #%d", s, pos[h.webhookID], p)
					}
					last[s] = pos[h.webhookID]
				}
			})
		})
	}
}

// Succeeded deliveries are pruned after Retention; pending and failed
// ones are kept.
func TestPrune(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ep := e.endpoint(typeOrder)
		disp := e.dispatcher()
		ids := e.write(typeOrder, "a", "b")
		failID := ids[1]
		e.recv.setAnswer(func(h hit) int {
			if h.webhookID == failID {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		e.run(disp)
		e.clk.Advance(webhooks.Retention - time.Minute)
		if n, err := disp.Prune(e.ctx); err != nil || n != 0 {
			t.Fatalf("pruned %d (%v) before the retention period", n, err)
		}
		e.clk.Advance(2 * time.Minute)
		if n, err := disp.Prune(e.ctx); err != nil || n != 1 {
			t.Fatalf("pruned %d (%v), want the one succeeded delivery", n, err)
		}
		if n := e.count(`SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = $1`, ep.ID); n != 1 {
			t.Fatalf("%d attempts left, want the failing delivery's one", n)
		}
		ds, err := e.svc.Deliveries(e.ctx, ep.ID, "", "", "", 10)
		if err != nil || len(ds) != 1 || ds[0].EventID != ids[1] {
			t.Fatalf("deliveries left: %+v, %v", ds, err)
		}
	})
}

// A success recorded in the same round as the failure that marked the
// endpoint failing still counts as "its next success": the endpoint ends
// active. (Each round's results share the endpoint as loaded at claim
// time, before the round changed its status.)
func TestSuccessInSameRoundAsFailingRecovers(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ep := e.endpoint(typeOrder)
		disp := e.dispatcher()
		poison := e.write(typeOrder, "a")[0]
		e.recv.setAnswer(func(h hit) int {
			if h.webhookID == poison {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		e.run(disp)
		// Retry A until its next retry is more than a day after its first failure.
		var due time.Duration
		for _, w := range webhooks.Schedule {
			due += w
			e.clk.Set(t0.Add(due))
			if due >= webhooks.FailingAfter {
				break
			}
			e.run(disp)
		}
		if st := e.get(ep.ID).Status; st != webhooks.StatusActive {
			t.Fatalf("status %s before a day of failures", st)
		}
		// A is due now; B is written a second later, and both go in one round,
		// A first (earlier due time).
		e.clk.Advance(time.Second)
		b := e.write(typeOrder, "b")[0]
		n, err := disp.RunOnce(e.ctx)
		if err != nil || n != 2 {
			t.Fatalf("claimed %d (%v), want A and B in one round", n, err)
		}
		if dl := e.delivery(ep.ID, b); dl.Status != webhooks.DeliverySucceeded {
			t.Fatalf("B: %+v", dl)
		}
		if got := e.feedEvents(webhooks.EventFailing, ep.ID); len(got) != 1 {
			t.Fatalf("%d failing events", len(got))
		}
		if st := e.get(ep.ID).Status; st != webhooks.StatusActive {
			t.Errorf("BUG: endpoint is %q after B succeeded in the round that marked it failing; want active with a recovered event (dispatch.go endpointAfter decides recovery from e.Status as loaded at claim time, stale within a batch)", st)
		}
	})
}

// The fan-out of a resource's next event races the recording of its
// previous one (in one node, its fan-out and its recorder; or two
// nodes): the next delivery must still become ready. On PostgreSQL
// neither transaction sees the other's uncommitted rows, so unless they
// take the endpoint's lock in the same order both conclude the other's
// delivery is first, and the next one waits forever.
func TestFanoutRacingRecordLeavesNothingStuck(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		for range 4 {
			e.endpoint(typeOrder)
		}
		ctx, cancel := context.WithCancel(e.ctx)
		defer cancel()
		var wg sync.WaitGroup
		for range 2 {
			disp := e.dispatcher(func(o *webhooks.Options) { o.Workers = 4 })
			wg.Add(1)
			go func() { defer wg.Done(); disp.Run(ctx, time.Millisecond) }()
		}
		// One event of resource A at a time, numbered at once, so that
		// each arrives while the previous one is being delivered.
		const n = 150
		for i := range n {
			err := e.d.Transact(e.ctx, func(tx *db.Tx) error {
				_, err := events.Record(e.ctx, tx, events.Event{Type: typeOrder, Subject: "A", CompanyID: e.company, Data: map[string]any{"n": i}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			e.assign()
		}
		deadline := time.Now().Add(20 * time.Second)
		for e.pending() > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		if p := e.count(`SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending' AND NOT ready
AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE owner_client_id = $1)`, e.client.ID); p != 0 {
			t.Fatalf("%d deliveries stuck pending, none of their resource's ready", p)
		}
		if p := e.pending(); p != 0 {
			t.Fatalf("%d deliveries pending after 20 s", p)
		}
		if got := len(e.recv.all()); got != 4*n {
			t.Fatalf("%d requests, want %d", got, 4*n)
		}
	})
}
