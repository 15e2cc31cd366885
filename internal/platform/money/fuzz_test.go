package money

import (
	"strings"
	"testing"
)

// canonical is how String should print an accepted input: leading integer
// zeros dropped, the fraction kept as written, and no sign on zero.
func canonical(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(s, ".")
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if hasDot {
		out += "." + frac
	}
	if neg && strings.Trim(intPart+frac, "0") != "" {
		out = "-" + out
	}
	return out
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"0", "-0", "12.50", "-12.50", "007.10", "0.001", "-0.000", "1.5",
		strings.Repeat("9", 30), strings.Repeat("9", 31), "1e3", "+1", ".5", "5.",
		"NaN", " 1", "", "-", "1.2.3", "٣", "0x1F", "99999999999999999999.9999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("Parse(%q): empty error message", s)
			}
			return
		}
		if got, want := d.String(), canonical(s); got != want {
			t.Fatalf("Parse(%q).String() = %q, want %q", s, got, want)
		}
		again, err := Parse(d.String())
		if err != nil {
			t.Fatalf("Parse(%q) accepted but its String %q is refused: %v", s, d.String(), err)
		}
		if !again.Equal(d) || again.Scale() != d.Scale() || again.String() != d.String() {
			t.Fatalf("Parse(String()) of %q = %s, want %s", s, again, d)
		}
		b, err := d.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var viaJSON Decimal
		if err := viaJSON.UnmarshalJSON(b); err != nil || viaJSON.String() != d.String() {
			t.Fatalf("JSON round trip of %q = %s, %v", s, viaJSON, err)
		}
	})
}
