package money

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseCurrency(t *testing.T) {
	for _, tt := range []struct {
		code  string
		minor int32
	}{
		{"EUR", 2}, {"USD", 2}, {"JPY", 0}, {"KRW", 0}, {"XOF", 0},
		{"BHD", 3}, {"TND", 3}, {"CLF", 4}, {"UYW", 4}, {"CHF", 2},
	} {
		c, err := ParseCurrency(tt.code)
		if err != nil {
			t.Errorf("ParseCurrency(%q): %v", tt.code, err)
			continue
		}
		if c.MinorUnits() != tt.minor || !c.Valid() {
			t.Errorf("%s: MinorUnits %d Valid %v, want %d true", tt.code, c.MinorUnits(), c.Valid(), tt.minor)
		}
	}
	for _, in := range []string{"", "eur", "Eur", "EURO", "EU", "XAU", "XXX", "XTS", "XDR", "DEM", "ABC", " EUR"} {
		if _, err := ParseCurrency(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseCurrency(%q) error %v, want ErrInvalid", in, err)
		}
	}
	for code, n := range minorUnits {
		if len(code) != 3 || n < 0 || n > AmountScale {
			t.Errorf("table entry %q: %d", code, n)
		}
		for _, r := range code {
			if r < 'A' || r > 'Z' {
				t.Errorf("table entry %q is not three upper-case letters", code)
			}
		}
	}
}

func TestRoundAmount(t *testing.T) {
	tests := []struct {
		in   string
		cur  Currency
		mode RoundingMode
		want string
	}{
		{"12.5", "EUR", HalfEven, "12.50"},
		{"12.345", "EUR", HalfEven, "12.34"},
		{"12.345", "EUR", HalfUp, "12.35"},
		{"-12.345", "EUR", HalfUp, "-12.35"},
		{"1234.5", "JPY", HalfEven, "1234"},
		{"1235.5", "JPY", HalfEven, "1236"},
		{"1234.5", "JPY", HalfUp, "1235"},
		{"1235", "JPY", HalfEven, "1235"},
		{"1.2345", "BHD", HalfEven, "1.234"},
		{"1.2345", "BHD", HalfUp, "1.235"},
		{"1.2", "BHD", HalfEven, "1.200"},
		{"1.23456", "CLF", HalfEven, "1.2346"},
	}
	for _, tt := range tests {
		if got := RoundAmount(MustParse(tt.in), tt.cur, tt.mode).String(); got != tt.want {
			t.Errorf("RoundAmount(%s, %s, %v) = %s, want %s", tt.in, tt.cur, tt.mode, got, tt.want)
		}
	}
}

func TestCurrencyText(t *testing.T) {
	var v struct {
		Currency Currency `json:"currency"`
	}
	if err := json.Unmarshal([]byte(`{"currency":"BHD"}`), &v); err != nil || v.Currency != "BHD" {
		t.Fatalf("unmarshal BHD: %v, %q", err, v.Currency)
	}
	if err := json.Unmarshal([]byte(`{"currency":"bhd"}`), &v); err == nil {
		t.Error("unmarshal lower-case code: want an error")
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) != `{"currency":"BHD"}` {
		t.Errorf("marshal: %s, %v", b, err)
	}
}
