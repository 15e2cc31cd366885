package loadgen

import (
	"net/http"
	"testing"
	"time"
)

func TestParseMix(t *testing.T) {
	m, err := ParseMix(DefaultMix)
	if err != nil || m[Availability] != 70 || m[Quote] != 15 || m[Checkout] != 10 || m[OrderRead] != 5 {
		t.Fatalf("%v %v", m, err)
	}
	if m.String() != DefaultMix {
		t.Fatalf("round trip: %s", m)
	}
	for _, bad := range []string{"", "checkout", "checkout=x", "checkout=-1", "refund=3", "checkout=0,order=0"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A 409 is neither an error nor a success; a request that got no answer
// counts as an error but has no latency; percentiles come from the
// answered requests.
func TestStat(t *testing.T) {
	var samples []sample
	for i := 1; i <= 100; i++ {
		samples = append(samples, sample{op: Checkout, latency: time.Duration(i) * time.Millisecond, status: http.StatusCreated})
	}
	samples = append(samples,
		sample{op: Checkout, latency: 500 * time.Millisecond, status: http.StatusConflict},
		sample{op: Checkout, latency: time.Hour, status: 0},
		sample{op: Checkout, latency: time.Millisecond, status: http.StatusInternalServerError})
	st := stat(Checkout, samples, 10*time.Second)
	if st.Requests != 103 || st.OK != 100 || st.Conflicts != 1 || st.Errors != 2 || st.PerSecond != 10 {
		t.Fatalf("%+v", st)
	}
	if st.P50 != 51 || st.P99 != 100 || st.Max != 500 {
		t.Fatalf("p50 %v p99 %v max %v", st.P50, st.P99, st.Max)
	}
}
