package mfg

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func fold(evs []storedEvent) ProductionOrderOperation {
	op := ProductionOrderOperation{Seq: 10, Status: "pending"}
	sortEvents(evs)
	for _, e := range evs {
		op.apply(e)
	}
	return op
}

func se(id, typ string, min int, extra ...any) storedEvent {
	e := storedEvent{ShopFloorEvent: ShopFloorEvent{EventID: id, Type: typ}, at: time.Date(2026, 5, 5, 6, 0, 0, 0, time.UTC).Add(time.Duration(min) * time.Minute)}
	for i := 0; i+1 < len(extra); i += 2 {
		switch extra[i] {
		case "q":
			q := money.MustParse(extra[i+1].(string))
			e.Quantity = &q
		case "reason":
			e.Reason = extra[i+1].(string)
		case "secs":
			e.DurationSeconds = int64(extra[i+1].(int))
		}
	}
	return e
}

// TestFoldIsOrderIndependent checks the rule intake relies on: the state
// of an operation depends on its events' timestamps, not their arrival, so
// any arrival order folded in time order gives the same operation.
func TestFoldIsOrderIndependent(t *testing.T) {
	evs := []storedEvent{
		se("a", "start", 0), se("b", "pause", 20, "reason", "lunch"), se("c", "resume", 25), se("d", "good", 30, "q", "4"),
		se("e", "scrap", 31, "q", "1", "reason", "bent"), se("f", "downtime", 32, "secs", 300, "reason", "jam"),
		se("g", "start", 33),                        // a start while running changes nothing
		se("h", "finish", 70), se("i", "pause", 71), // a pause after finishing adds no time
	}
	want := fold(append([]storedEvent(nil), evs...))
	if want.RunSeconds != 65*60 || want.Status != "paused" || !want.GoodQuantity.Equal(money.FromInt(4)) || want.DowntimeSeconds != 300 ||
		!want.ScrapReasons["bent"].Equal(money.FromInt(1)) || want.Events != len(evs) || want.LastEventID != "i" {
		t.Fatalf("fold %+v", want)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		shuffled := append([]storedEvent(nil), evs...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got := fold(shuffled)
		if got.RunSeconds != want.RunSeconds || got.Status != want.Status || !got.GoodQuantity.Equal(want.GoodQuantity) || got.LastEventID != want.LastEventID {
			t.Fatalf("arrival order %v folded to %+v, want %+v", shuffled, got, want)
		}
	}
	// An incremental fold (events after the last folded) equals a full one.
	op := ProductionOrderOperation{Seq: 10, Status: "pending"}
	for _, e := range evs[:4] {
		op.apply(e)
	}
	late := evs[4:]
	if before(late[0], *op.LastEventAt, op.LastEventID) {
		t.Fatal("later events read as late")
	}
	for _, e := range late {
		op.apply(e)
	}
	if op.RunSeconds != want.RunSeconds || op.Events != want.Events {
		t.Fatalf("incremental %+v", op)
	}
	// reset keeps the plan and forgets the progress.
	op.PlannedMinutes = money.FromInt(60)
	op.reset()
	if op.Events != 0 || op.RunSeconds != 0 || !op.PlannedMinutes.Equal(money.FromInt(60)) || op.Status != "pending" {
		t.Fatalf("reset %+v", op)
	}
}
