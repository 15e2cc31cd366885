package id

import (
	"math/bits"
	"strings"
	"testing"
	"time"
)

func TestNewShape(t *testing.T) {
	got := New("prod")
	if !strings.HasPrefix(got, "prod_") {
		t.Fatalf("New(%q) = %q, want prefix %q", "prod", got, "prod_")
	}
	if len(got) != len("prod")+27 {
		t.Fatalf("len(New(%q)) = %d, want %d (%q)", "prod", len(got), len("prod")+27, got)
	}
	// The tail is what clients copy by hand, so it must avoid the letters
	// Crockford's alphabet leaves out and stay lower case.
	for i, c := range got[len("prod_"):] {
		if !strings.ContainsRune("0123456789abcdefghjkmnpqrstvwxyz", c) {
			t.Errorf("New(%q) = %q: character %q at %d is not lower-case Crockford base32", "prod", got, c, i)
		}
	}
	if !HasPrefix(got, "prod") {
		t.Errorf("HasPrefix(%q, %q) = false for an ID New just made", got, "prod")
	}
}

func TestNewWithOtherPrefixes(t *testing.T) {
	for _, prefix := range []string{"evt", "c", "sales_order"} {
		t.Run(prefix, func(t *testing.T) {
			got := New(prefix)
			if len(got) != len(prefix)+27 || !HasPrefix(got, prefix) {
				t.Errorf("New(%q) = %q: length %d, HasPrefix %v; want length %d, true",
					prefix, got, len(got), HasPrefix(got, prefix), len(prefix)+27)
			}
		})
	}
}

func TestHasPrefix(t *testing.T) {
	valid := New("prod")
	tail := valid[len("prod_"):]
	withChar := func(c string) string { return "prod_" + c + tail[1:] }
	for _, tt := range []struct {
		name string
		s    string
		want bool
	}{
		{"accepts an ID made by New", valid, true},
		{"accepts all zeros", "prod_" + strings.Repeat("0", 26), true},
		{"rejects another prefix", "evts_" + tail, false},
		{"rejects a prefix that only starts the same", "products_" + tail, false},
		{"rejects a missing underscore", "prod" + tail + "0", false},
		{"rejects the prefix alone", "prod_", false},
		{"rejects one character short", valid[:len(valid)-1], false},
		{"rejects one character long", valid + "0", false},
		{"rejects upper case", "prod_" + strings.ToUpper(tail), false},
		{"rejects a single upper-case letter", withChar("A"), false},
		{"rejects i", withChar("i"), false},
		{"rejects l", withChar("l"), false},
		{"rejects o", withChar("o"), false},
		{"rejects u", withChar("u"), false},
		{"rejects punctuation", withChar("-"), false},
		{"rejects the empty string", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasPrefix(tt.s, "prod"); got != tt.want {
				t.Errorf("HasPrefix(%q, %q) = %v, want %v", tt.s, "prod", got, tt.want)
			}
		})
	}
}

func TestNewIsUnique(t *testing.T) {
	const n = 10000
	seen := make(map[string]bool, n)
	for range n {
		s := New("prod")
		if seen[s] {
			t.Fatalf("New returned %q twice within %d calls", s, n)
		}
		seen[s] = true
	}
}

// Only the millisecond is ordered; within one millisecond the random bits
// decide, so the batches are separated by more than a millisecond.
func TestNewSortsByMillisecond(t *testing.T) {
	const n = 100
	var before, after []string
	for range n {
		before = append(before, New("prod"))
	}
	time.Sleep(2 * time.Millisecond)
	for range n {
		after = append(after, New("prod"))
	}
	for _, a := range before {
		for _, b := range after {
			if a >= b {
				t.Fatalf("ID %q made earlier does not sort before %q made 2ms later", a, b)
			}
		}
	}
}

// The first 10 characters carry exactly the 48-bit millisecond (3 bits in
// the first digit, then 9 × 5), which is what makes string order time order.
func TestNewEncodesMillisecond(t *testing.T) {
	before := time.Now().UnixMilli()
	s := New("prod")
	after := time.Now().UnixMilli()
	var ms int64
	for _, c := range s[len("prod_") : len("prod_")+10] {
		ms = ms<<5 | int64(strings.IndexRune(alphabet, c))
	}
	if ms < before || ms > after {
		t.Errorf("New(%q) = %q encodes millisecond %d, want %d..%d", "prod", s, ms, before, after)
	}
}

// The last 16 characters are the 80 random bits; a position that never
// changes across many IDs means random bits are lost. With 1,000 IDs the
// chance of a false failure is about 32^-999.
func TestNewUsesEveryRandomCharacter(t *testing.T) {
	const n = 1000
	var seen [16]uint32
	for range n {
		tail := New("prod")[len("prod_")+10:]
		for i, c := range tail {
			seen[i] |= 1 << strings.IndexRune(alphabet, c)
		}
	}
	for i, mask := range seen {
		if bits.OnesCount32(mask) < 2 {
			t.Errorf("random character %d took only %d value(s) in %d IDs", i, bits.OnesCount32(mask), n)
		}
	}
}
