package money

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		in, want string
		scale    int32
	}{
		{"0", "0", 0},
		{"12", "12", 0},
		{"12.50", "12.50", 2},
		{"-12.50", "-12.50", 2},
		{"0.001", "0.001", 3},
		{"-0.5", "-0.5", 1},
		{"007.10", "7.10", 2},
		{"-0", "0", 0},
		{"-0.00", "0.00", 2},
		{"1.000000", "1.000000", 6},
		{strings.Repeat("9", 30), strings.Repeat("9", 30), 0},
		{"0." + strings.Repeat("1", 29), "0." + strings.Repeat("1", 29), 29},
	}
	for _, tt := range tests {
		d, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): unexpected error %v", tt.in, err)
			continue
		}
		if got := d.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		if got := d.Scale(); got != tt.scale {
			t.Errorf("Parse(%q).Scale() = %d, want %d", tt.in, got, tt.scale)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []string{
		"", "abc", "+1", "1e3", "1E3", " 1", "1 ", ".5", "5.", "-", "-.5", "--1",
		"NaN", "Inf", "-Inf", "1,5", "1.2.3", "0x10", "1_000", "١٢", "12.50\n",
		strings.Repeat("9", 31), "0." + strings.Repeat("0", 30),
		strings.Repeat("1", 100) + "x",
	}
	for _, in := range tests {
		d, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) = %s, want an error", in, d)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) error %v does not wrap ErrInvalid", in, err)
		}
	}
	_, err := Parse("abc")
	if want := `"abc" is not a decimal number; write it as a string like "12.50"`; err == nil || err.Error() != want {
		t.Errorf("Parse(abc) error = %v, want %q", err, want)
	}
	_, err = Parse(strings.Repeat("1", 31))
	if err == nil || !strings.Contains(err.Error(), "more than 30 digits") {
		t.Errorf("31 digits: error = %v, want it to mention the 30-digit limit", err)
	}
}

func TestStringKeepsScale(t *testing.T) {
	tests := []struct {
		d    Decimal
		want string
	}{
		{MustParse("12.50"), "12.50"},
		{MustParse("12.50").Add(MustParse("1")), "13.50"},
		{MustParse("1.10").Mul(MustParse("2.0")), "2.200"},
		{MustParse("3.00").Neg(), "-3.00"},
		{MustParse("-3.00").Abs(), "3.00"},
		{New(1250, -2), "12.50"},
		{New(5, 2), "500"},
		{New(-5, -3), "-0.005"},
		{FromInt(-42), "-42"},
		{Decimal{}, "0"},
		{FromScaled(125000, 4), "12.5000"},
		{FromScaled(125000, 4).Normalize(), "12.5"},
		{MustParse("3.000").Normalize(), "3"},
		{MustParse("1200").Normalize(), "1200"},
		{MustParse("0.000").Normalize(), "0"},
		{MustParse("-0.0100").Normalize(), "-0.01"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	if got := MustParse("2.345").StringFixed(2); got != "2.34" {
		t.Errorf("StringFixed(2) of 2.345 = %q, want half-even 2.34", got)
	}
	if got := MustParse("2.5").StringFixed(3); got != "2.500" {
		t.Errorf("StringFixed(3) of 2.5 = %q, want 2.500", got)
	}
}

func TestArithmeticIsExact(t *testing.T) {
	sum := Decimal{}
	tenth := MustParse("0.1")
	for range 10 {
		sum = sum.Add(tenth)
	}
	if !sum.Equal(MustParse("1.0")) || sum.String() != "1.0" {
		t.Errorf("ten times 0.1 = %s, want exactly 1.0", sum)
	}
	if got := MustParse("0.1").Add(MustParse("0.2")); !got.Equal(MustParse("0.3")) {
		t.Errorf("0.1 + 0.2 = %s, want 0.3", got)
	}
	if got := MustParse("0.3").Sub(MustParse("0.1")); !got.Equal(MustParse("0.2")) {
		t.Errorf("0.3 - 0.1 = %s, want 0.2", got)
	}
	if got := MustParse("0.0125").Mul(FromInt(1000)); got.String() != "12.5000" {
		t.Errorf("0.0125 × 1000 = %s, want 12.5000", got)
	}
	if !MustParse("1.0").Equal(MustParse("1.00")) {
		t.Error("1.0 and 1.00 should be Equal")
	}
	if c := MustParse("9.50").Cmp(MustParse("100.00")); c != -1 {
		t.Errorf("Cmp(9.50, 100.00) = %d, want -1 (numeric, not textual)", c)
	}
	if d := MustParse("-0.01"); d.Sign() != -1 || !d.IsNegative() || d.IsZero() {
		t.Errorf("-0.01: Sign %d IsNegative %v IsZero %v", d.Sign(), d.IsNegative(), d.IsZero())
	}
	if d := MustParse("0.00"); d.Sign() != 0 || d.IsNegative() || !d.IsZero() {
		t.Errorf("0.00: Sign %d IsNegative %v IsZero %v", d.Sign(), d.IsNegative(), d.IsZero())
	}
	if got := (Decimal{}).Add(MustParse("2.50")); got.String() != "2.50" {
		t.Errorf("zero value + 2.50 = %s", got)
	}
}

func TestRound(t *testing.T) {
	tests := []struct {
		in     string
		places int32
		mode   RoundingMode
		want   string
	}{
		{"2.345", 2, HalfEven, "2.34"},
		{"2.355", 2, HalfEven, "2.36"},
		{"-2.345", 2, HalfEven, "-2.34"},
		{"-2.355", 2, HalfEven, "-2.36"},
		{"2.3451", 2, HalfEven, "2.35"},
		{"2.345", 2, HalfUp, "2.35"},
		{"-2.345", 2, HalfUp, "-2.35"},
		{"2.344", 2, HalfUp, "2.34"},
		{"0.5", 0, HalfEven, "0"},
		{"1.5", 0, HalfEven, "2"},
		{"0.5", 0, HalfUp, "1"},
		{"-0.5", 0, HalfUp, "-1"},
		{"-0.4", 0, HalfUp, "0"},
		{"12.5", 2, HalfEven, "12.50"},
		{"1250", -2, HalfEven, "1200"},
		{"1350", -2, HalfEven, "1400"},
		{"1250", -2, HalfUp, "1300"},
		{"2.345", 2, RoundingMode(99), "2.34"},
	}
	for _, tt := range tests {
		if got := MustParse(tt.in).Round(tt.places, tt.mode).String(); got != tt.want {
			t.Errorf("Round(%s, %d, %v) = %s, want %s", tt.in, tt.places, tt.mode, got, tt.want)
		}
	}
	var zero RoundingMode
	if zero != HalfEven {
		t.Error("the zero RoundingMode must be HalfEven")
	}
}

func TestParseRoundingMode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want RoundingMode
	}{{"half_even", HalfEven}, {"half_up", HalfUp}} {
		got, err := ParseRoundingMode(tt.in)
		if err != nil || got != tt.want || got.String() != tt.in {
			t.Errorf("ParseRoundingMode(%q) = %v, %v", tt.in, got, err)
		}
	}
	for _, in := range []string{"", "HALF_UP", "half-up", "bankers"} {
		if _, err := ParseRoundingMode(in); err == nil {
			t.Errorf("ParseRoundingMode(%q) accepted", in)
		}
	}
}

func TestDivRound(t *testing.T) {
	tests := []struct {
		a, b   string
		places int32
		mode   RoundingMode
		want   string
	}{
		{"10", "3", 2, HalfEven, "3.33"},
		{"20", "3", 2, HalfEven, "6.67"},
		{"-10", "3", 2, HalfEven, "-3.33"},
		{"10", "-3", 2, HalfEven, "-3.33"},
		{"1", "8", 2, HalfEven, "0.12"},
		{"1", "8", 2, HalfUp, "0.13"},
		{"-1", "8", 2, HalfUp, "-0.13"},
		{"3", "8", 2, HalfEven, "0.38"},
		{"100.00", "0.25", 2, HalfEven, "400.00"},
		{"0.0125", "0.5", 4, HalfEven, "0.0250"},
		{"1", "3", 0, HalfUp, "0"},
		{"2", "3", 0, HalfEven, "1"},
		{"1234", "1", -2, HalfEven, "1200"},
	}
	for _, tt := range tests {
		got, err := MustParse(tt.a).DivRound(MustParse(tt.b), tt.places, tt.mode)
		if err != nil {
			t.Errorf("%s / %s: %v", tt.a, tt.b, err)
			continue
		}
		if got.String() != tt.want {
			t.Errorf("%s / %s to %d places (%v) = %s, want %s", tt.a, tt.b, tt.places, tt.mode, got, tt.want)
		}
	}
}

func TestDivisionByZero(t *testing.T) {
	for _, z := range []Decimal{{}, MustParse("0.00"), MustParse("-0")} {
		_, err := MustParse("1").DivRound(z, 2, HalfEven)
		if !errors.Is(err, ErrDivisionByZero) {
			t.Errorf("1 / %s: error %v, want ErrDivisionByZero", z, err)
		}
	}
	if _, err := MustParse("1").DivRound(MustParse("3"), 1<<30, HalfEven); err == nil {
		t.Error("DivRound to 2^30 places: want an out-of-range error")
	}
}
