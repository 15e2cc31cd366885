package money

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"math"
	"testing"
)

// Compile-time checks that stores can pass the adapters to database/sql.
var (
	_ driver.Valuer = Column{}
	_ sql.Scanner   = Column{}
	_ driver.Valuer = NullColumn{}
	_ sql.Scanner   = NullColumn{}
)

func TestScaledRoundTrip(t *testing.T) {
	tests := []struct {
		in    string
		scale int32
		want  int64
		back  string
	}{
		{"12.50", AmountScale, 125000, "12.5000"},
		{"-12.5", AmountScale, -125000, "-12.5000"},
		{"0", AmountScale, 0, "0.0000"},
		{"0.000000", PriceScale, 0, "0.000000"},
		{"1.23456700", PriceScale, 1234567, "1.234567"},
		{"7", QuantityScale, 7000000, "7.000000"},
		{"922337203685477.5807", AmountScale, math.MaxInt64, "922337203685477.5807"},
		{"-922337203685477.5808", AmountScale, math.MinInt64, "-922337203685477.5808"},
		{"9223372036854.775807", PriceScale, math.MaxInt64, "9223372036854.775807"},
	}
	for _, tt := range tests {
		got, err := MustParse(tt.in).Scaled(tt.scale)
		if err != nil || got != tt.want {
			t.Errorf("Scaled(%s, %d) = %d, %v; want %d", tt.in, tt.scale, got, err, tt.want)
			continue
		}
		back := FromScaled(got, tt.scale)
		if back.String() != tt.back || !back.Equal(MustParse(tt.in)) {
			t.Errorf("FromScaled(%d, %d) = %s, want %s", got, tt.scale, back, tt.back)
		}
	}
	if got, err := New(5, 2).Scaled(0); err != nil || got != 500 {
		t.Errorf("Scaled(500 with exponent 2) = %d, %v", got, err)
	}
}

func TestScaledErrors(t *testing.T) {
	tests := []struct {
		d     Decimal
		scale int32
		want  error
	}{
		{MustParse("0.00001"), AmountScale, ErrPrecision},
		{MustParse("12.34567"), AmountScale, ErrPrecision},
		{MustParse("0.0000001"), PriceScale, ErrPrecision},
		{New(1, -1000), AmountScale, ErrPrecision},
		{MustParse("922337203685477.5808"), AmountScale, ErrOverflow},
		{MustParse("-922337203685477.5809"), AmountScale, ErrOverflow},
		{MustParse("9223372036854.775808"), PriceScale, ErrOverflow},
		{MustParse("1" + "000000000000000000000000"), AmountScale, ErrOverflow},
		{New(1, 1000), AmountScale, ErrOverflow},
	}
	for _, tt := range tests {
		_, err := tt.d.Scaled(tt.scale)
		if !errors.Is(err, tt.want) {
			t.Errorf("Scaled(%s, %d) error = %v, want %v", tt.d, tt.scale, err, tt.want)
		}
	}
	// Trailing zeros beyond the scale are not precision loss.
	if got, err := MustParse("1.50000").Scaled(AmountScale); err != nil || got != 15000 {
		t.Errorf("Scaled(1.50000, 4) = %d, %v", got, err)
	}
}

func TestColumnValue(t *testing.T) {
	x := MustParse("9.50")
	v, err := Amount(&x).Value()
	if err != nil || v != int64(95000) {
		t.Errorf("Amount(9.50).Value() = %v (%T), %v", v, v, err)
	}
	v, err = Price(&x).Value()
	if err != nil || v != int64(9500000) {
		t.Errorf("Price(9.50).Value() = %v, %v", v, err)
	}
	y := MustParse("0.12345")
	if _, err := Amount(&y).Value(); !errors.Is(err, ErrPrecision) {
		t.Errorf("Amount(0.12345).Value() error = %v, want ErrPrecision", err)
	}
	if _, err := Quantity(nil).Value(); err == nil {
		t.Error("Value of a nil pointer: want an error")
	}
}

func TestColumnScan(t *testing.T) {
	tests := []struct {
		name string
		col  func(*Decimal) Column
		src  any
		want string
	}{
		{"int64", Amount, int64(125000), "12.5000"},
		{"negative int64", Amount, int64(-1), "-0.0001"},
		{"string", Amount, "10000", "1.0000"},
		{"bytes", Quantity, []byte("1500000"), "1.500000"},
		{"numeric beyond int64", Amount, "123456789012345678901234", "12345678901234567890.1234"},
		{"negative numeric", Price, "-99999999999999999999", "-99999999999999.999999"},
		{"zero fraction", Amount, "10000.00", "1.0000"},
	}
	for _, tt := range tests {
		var d Decimal
		if err := tt.col(&d).Scan(tt.src); err != nil {
			t.Errorf("%s: Scan(%v): %v", tt.name, tt.src, err)
			continue
		}
		if d.String() != tt.want {
			t.Errorf("%s: Scan(%v) = %s, want %s", tt.name, tt.src, d, tt.want)
		}
	}
	for _, src := range []any{nil, 1.5, float64(10000), float32(1), "1.5", "abc", "", "-", "1e5", " 1", true, int32(5)} {
		d := MustParse("7.00")
		if err := Amount(&d).Scan(src); err == nil {
			t.Errorf("Scan(%#v) accepted, got %s", src, d)
		} else if d.String() != "7.00" {
			t.Errorf("Scan(%#v) failed but changed the destination to %s", src, d)
		}
	}
}

func TestNullColumn(t *testing.T) {
	var p *Decimal
	if v, err := NullAmount(&p).Value(); v != nil || err != nil {
		t.Errorf("NullAmount(nil).Value() = %v, %v", v, err)
	}
	if err := NullAmount(&p).Scan(int64(25000)); err != nil || p == nil || p.String() != "2.5000" {
		t.Fatalf("NullAmount Scan(25000) = %v, %v", p, err)
	}
	if v, err := NullAmount(&p).Value(); v != int64(25000) || err != nil {
		t.Errorf("NullAmount(2.5).Value() = %v, %v", v, err)
	}
	if err := NullPrice(&p).Scan(nil); err != nil || p != nil {
		t.Errorf("NullPrice Scan(nil) = %v, %v; want nil pointer", p, err)
	}
	if err := NullQuantity(&p).Scan(2.5); err == nil {
		t.Error("NullQuantity Scan(float64): want an error")
	}
}
