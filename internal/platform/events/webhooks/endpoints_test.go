package webhooks_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/events/webhooks"
)

// What a client may subscribe is checked when it subscribes.
func TestCreateValidates(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		cases := []struct {
			in      webhooks.Input
			pointer string
		}{
			{webhooks.Input{URL: "https://169.254.169.254/latest", EventTypes: []string{typeOrder}}, "/url"},
			{webhooks.Input{URL: "https://10.0.0.1/hook", EventTypes: []string{typeOrder}}, "/url"},
			{webhooks.Input{URL: "https://2130706433/hook", EventTypes: []string{typeOrder}}, "/url"},
			{webhooks.Input{URL: "http://example.com/hook", EventTypes: []string{typeOrder}}, "/url"},
			{webhooks.Input{URL: "https://example.com/hook", EventTypes: []string{typePayroll}}, "/event_types/0"},
			{webhooks.Input{URL: "https://example.com/hook", EventTypes: []string{"mainstay.test.nothing.happened"}}, "/event_types/0"},
			{webhooks.Input{URL: "https://example.com/hook", EventTypes: []string{"mainstay.nomodule.*"}}, "/event_types/0"},
			{webhooks.Input{URL: "https://example.com/hook", EventTypes: []string{typeOrder}, CompanyIDs: []string{"co_2"}}, "/company_ids/0"},
		}
		for _, c := range cases {
			_, err := e.svc.Create(e.ctx, c.in)
			if apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("%+v: err = %v, want invalid", c.in, err)
				continue
			}
			found := false
			for _, f := range apperr.As(err).Fields {
				found = found || f.Pointer == c.pointer
			}
			if !found {
				t.Errorf("%+v: fields %+v, want %s", c.in, apperr.As(err).Fields, c.pointer)
			}
		}
		ep := e.endpoint(typeOrder)
		bad := "https://[fd00:ec2::254]/"
		if _, err := e.svc.Update(e.ctx, ep.ID, nil, webhooks.Patch{URL: &bad}); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("update to a refused URL: %v", err)
		}
	})
}

// A delivery whose endpoint no longer subscribes to its type is not sent:
// it ends failed with a "not sent" error.
func TestUnsubscribedPendingDeliveryIsNotSent(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ep := e.endpoint(typeOrder)
		disp := e.dispatcher()
		id := e.write(typeOrder, "ord_1")[0]
		if err := disp.Fanout(e.ctx); err != nil {
			t.Fatal(err)
		}
		types := []string{typeOther}
		if _, err := e.svc.Update(e.ctx, ep.ID, nil, webhooks.Patch{EventTypes: &types}); err != nil {
			t.Fatal(err)
		}
		e.run(disp)
		if e.recv.n() != 0 {
			t.Fatalf("%d requests", e.recv.n())
		}
		dl := e.delivery(ep.ID, id)
		if dl.Status != webhooks.DeliveryFailed || !strings.HasPrefix(dl.LastError, "not sent") {
			t.Fatalf("delivery: %+v", dl)
		}
	})
}

// What the receiver answered is kept, cut to 1 KiB, whatever its bytes:
// a NUL or invalid UTF-8 in a response body (binary, compressed) must not
// stop the attempt from being recorded — else the delivery is re-sent at
// every lease expiry, forever, and never counted.
func TestResponseBodyRecorded(t *testing.T) {
	bodies := map[string]string{
		"long":    strings.Repeat("é", 3000),
		"invalid": "bad \xff\xfe utf-8",
		"nul":     "ok\x00binary",
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			engines(t, func(t *testing.T, e *env) {
				ep := e.endpoint(typeOrder)
				disp := e.dispatcher()
				e.recv.setAnswer(status(http.StatusOK))
				e.recv.mu.Lock()
				e.recv.body = body
				e.recv.mu.Unlock()
				id := e.write(typeOrder, "ord_1")[0]
				e.run(disp)
				dl := e.delivery(ep.ID, id)
				if dl.Status != webhooks.DeliverySucceeded || len(dl.Attempts) != 1 {
					t.Fatalf("BUG: a %s response body: delivery %+v (the attempt was not recorded)", name, dl)
				}
				rb := dl.Attempts[0].ResponseBody
				if len(rb) > 1024+len("…") || rb == "" {
					t.Fatalf("response body kept: %d bytes", len(rb))
				}
				// A lease later, nothing is sent again.
				e.clk.Advance(2 * time.Minute)
				e.run(disp)
				if n := e.recv.n(); n != 1 {
					t.Fatalf("BUG: sent %d times", n)
				}
			})
		})
	}
}

// One receiver answering with a NUL byte must not hold up the recording
// of other endpoints' deliveries claimed in the same round: they were
// accepted, and must not be sent again.
func TestPoisonedResponseDoesNotAffectOtherEndpoints(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		good := e.endpoint(typeOrder)
		evil := newReceiver(t, e.clk)
		evil.body = "\x00"
		evil.setAnswer(status(http.StatusOK)) // 204 would carry no body
		e.recv.setAnswer(status(http.StatusOK))
		bad, err := e.svc.Create(e.ctx, webhooks.Input{URL: evil.url(), EventTypes: []string{typeOrder}})
		if err != nil {
			t.Fatal(err)
		}
		disp := e.dispatcher()
		id := e.write(typeOrder, "ord_1")[0]
		for range 3 {
			n, err := disp.RunOnce(e.ctx) // errors are what this test is about
			t.Logf("RunOnce: %d, %v; requests %d good, %d evil", n, err, e.recv.n(), evil.n())
			e.clk.Advance(2 * time.Minute)
		}
		if n := e.recv.n(); n != 1 {
			t.Errorf("BUG: the well-behaved endpoint was sent the same event %d times: another endpoint's NUL response rolled back the recording of the whole round (dispatch.go record: one transaction for every result; recordOne stores the raw body, which PostgreSQL TEXT refuses)", n)
		}
		if dl := e.delivery(good.ID, id); dl.Status != webhooks.DeliverySucceeded {
			t.Errorf("BUG: the well-behaved endpoint's delivery is %s after it was accepted", dl.Status)
		}
		if dl := e.delivery(bad.ID, id); dl.Status != webhooks.DeliverySucceeded || dl.AttemptCount != 1 {
			t.Errorf("BUG: the NUL-answering endpoint's delivery: %s after %d recorded attempts, %d requests", dl.Status, dl.AttemptCount, evil.n())
		}
	})
}

// A delivery of an event without a subject reports no subject (the order
// key is the event id internally, so such events are not ordered).
func TestSubjectlessEventDelivery(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ep := e.endpoint(typeOrder)
		disp := e.dispatcher()
		ids := e.write(typeOrder, "", "")
		e.run(disp)
		if e.recv.n() != 2 {
			t.Fatalf("%d requests", e.recv.n())
		}
		for _, id := range ids {
			if dl := e.delivery(ep.ID, id); dl.Subject != "" {
				t.Errorf("BUG: delivery of a subject-less event reports subject %q (history.go Deliveries scans order_key, which is the event id for such events, into Subject)", dl.Subject)
			}
		}
		last := e.write(typeOrder, "ord_9")[0]
		e.run(disp)
		if dl := e.delivery(ep.ID, last); dl.Subject != "ord_9" {
			t.Errorf("subject %q, want ord_9", dl.Subject)
		}
	})
}

// A test ping is signed with the endpoint's secret, is not in the feed,
// and reaches a disabled endpoint too.
func TestPing(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		off := false
		ep, err := e.svc.Create(e.ctx, webhooks.Input{URL: e.recv.url(), EventTypes: []string{typeOrder}, Enabled: &off})
		if err != nil {
			t.Fatal(err)
		}
		disp := e.dispatcher()
		res, err := disp.Ping(e.ctx, ep.ID)
		if err != nil || !res.Succeeded || res.WebhookID == "" {
			t.Fatalf("ping: %+v, %v", res, err)
		}
		hits := e.recv.all()
		if len(hits) != 1 || hits[0].event.Type != webhooks.EventPing || hits[0].webhookID != res.WebhookID {
			t.Fatalf("ping requests: %+v", hits)
		}
		wh, _ := standardwebhooks.NewWebhook(ep.Secret)
		if err := wh.VerifyIgnoringTimestamp(hits[0].body, hits[0].header); err != nil {
			t.Fatalf("ping signature: %v", err)
		}
		e.assign()
		all, err := events.After(e.ctx, e.d, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range all {
			if ev.Type == webhooks.EventPing {
				t.Fatal("the ping is in the feed")
			}
		}
	})
}

// The backlog gauge counts pending deliveries, on both engines.
func TestCollectors(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.endpoint(typeOrder)
		disp := e.dispatcher()
		e.recv.setAnswer(status(http.StatusServiceUnavailable))
		e.write(typeOrder, "a", "b", "c")
		e.run(disp)
		reg := prometheus.NewRegistry()
		for _, c := range disp.Collectors() {
			if err := reg.Register(c); err != nil {
				t.Fatal(err)
			}
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				switch {
				case m.GetGauge() != nil:
					got[mf.GetName()] = m.GetGauge().GetValue()
				case m.GetCounter() != nil:
					got[mf.GetName()] += m.GetCounter().GetValue()
				}
			}
		}
		if got["mainstay_webhook_backlog"] != 3 {
			t.Errorf("backlog %v, want 3", got["mainstay_webhook_backlog"])
		}
		if got["mainstay_webhook_fanout_lag"] != 0 {
			t.Errorf("fan-out lag %v, want 0 (all fanned out)", got["mainstay_webhook_fanout_lag"])
		}
		if got["mainstay_webhook_attempts_total"] != 3 {
			t.Errorf("attempts %v, want 3", got["mainstay_webhook_attempts_total"])
		}
		e.write(typeOrder, "d")
		mfs, _ = reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "mainstay_webhook_fanout_lag" {
				if v := mf.GetMetric()[0].GetGauge().GetValue(); v < 1 {
					t.Errorf("fan-out lag %v after a new event, want ≥ 1", v)
				}
			}
		}
	})
}
