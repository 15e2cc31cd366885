package money

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/shopspring/decimal"
)

// Storage scales: a column of a kind holds value × 10^scale as an int64.
// They are fixed per kind, not per row, so SQL can compare and sum the
// integers directly. Changing one requires a data migration.
const (
	AmountScale   int32 = 4
	PriceScale    int32 = 6
	QuantityScale int32 = 6
	// RateScale keeps exchange rates: ten places hold a rate between a
	// strong and a weak currency (1 JPY in KWD) without rounding it.
	RateScale int32 = 10
)

var (
	// ErrPrecision means a value has more decimal places than the storage
	// scale; rounding it silently would change the books.
	ErrPrecision = errors.New("money: too many decimal places for storage")
	// ErrOverflow means a scaled value does not fit in a 64-bit integer.
	ErrOverflow = errors.New("money: value out of storage range")
)

// maxScannedDigits bounds integers scanned from text. A SUM of int64
// columns over any realistic number of rows has fewer than 40 digits.
const maxScannedDigits = 100

// Scaled returns d × 10^scale as an int64, for storage. It fails with
// ErrPrecision rather than round, and with ErrOverflow outside int64.
func (d Decimal) Scaled(scale int32) (int64, error) {
	c := d.d.Coefficient()
	if c.Sign() == 0 {
		return 0, nil
	}
	shift := int64(d.d.Exponent()) + int64(scale)
	switch {
	case shift > 18:
		// A non-zero coefficient times 10^19 or more exceeds int64; checked
		// first so the power of ten below stays small.
		return 0, fmt.Errorf("%w: %s does not fit in a 64-bit integer at scale %d", ErrOverflow, d, scale)
	case shift >= 0:
		c.Mul(c, pow10(shift))
	default:
		// |c| < 10^digits, so dropping more digits than c has cannot leave
		// a zero remainder; answering early also bounds the power of ten.
		if -shift > int64(len(c.String())) {
			return 0, precisionError(d, scale)
		}
		var r big.Int
		c.QuoRem(c, pow10(-shift), &r)
		if r.Sign() != 0 {
			return 0, precisionError(d, scale)
		}
	}
	if !c.IsInt64() {
		return 0, fmt.Errorf("%w: %s does not fit in a 64-bit integer at scale %d", ErrOverflow, d, scale)
	}
	return c.Int64(), nil
}

func precisionError(d Decimal, scale int32) error {
	return fmt.Errorf("%w: %s has more than %d decimal places", ErrPrecision, d, scale)
}

// FromScaled returns v × 10^−scale exactly. The result has scale places, so
// String prints them all (FromScaled(125000, 4) is "12.5000"); use Round or
// Normalize for a shorter form.
func FromScaled(v int64, scale int32) Decimal { return Decimal{decimal.New(v, -scale)} }

// Column adapts a *Decimal to a BIGINT column of one kind, both as a query
// argument (driver.Valuer) and as a Scan destination (sql.Scanner), so
// stores write money.Amount(&x) in either place.
type Column struct {
	d     *Decimal
	scale int32
	kind  string
}

// Amount adapts an amount column (scale AmountScale).
func Amount(d *Decimal) Column { return Column{d, AmountScale, "amount"} }

// Rate adapts an exchange-rate column (scale RateScale).
func Rate(d *Decimal) Column { return Column{d, RateScale, "rate"} }

// Price adapts a unit-price column (scale PriceScale).
func Price(d *Decimal) Column { return Column{d, PriceScale, "price"} }

// Quantity adapts a quantity column (scale QuantityScale).
func Quantity(d *Decimal) Column { return Column{d, QuantityScale, "quantity"} }

// Value returns the scaled int64.
func (c Column) Value() (driver.Value, error) {
	if c.d == nil {
		return nil, fmt.Errorf("money: nil *Decimal given as %s argument", c.kind)
	}
	v, err := c.d.Scaled(c.scale)
	if err != nil {
		return nil, fmt.Errorf("storing %s: %w", c.kind, err)
	}
	return v, nil
}

// Scan accepts what drivers deliver for integer columns and integer
// aggregates: int64, or the decimal text of a PostgreSQL numeric (which
// SUM(bigint) returns, possibly beyond int64). NULL and floats are errors:
// NULL belongs in a NullColumn, and a float means the value was already
// inexact.
func (c Column) Scan(src any) error {
	if c.d == nil {
		return fmt.Errorf("money: nil *Decimal given as %s scan destination", c.kind)
	}
	if src == nil {
		return fmt.Errorf("money: NULL in %s column; use the Null variant or COALESCE", c.kind)
	}
	v, err := scanScaled(src, c.scale, c.kind)
	if err != nil {
		return err
	}
	*c.d = v
	return nil
}

// NullColumn is Column for nullable columns: a nil *Decimal is SQL NULL.
type NullColumn struct {
	d     **Decimal
	scale int32
	kind  string
}

// NullAmount adapts a nullable amount column.
func NullAmount(d **Decimal) NullColumn { return NullColumn{d, AmountScale, "amount"} }

// NullPrice adapts a nullable unit-price column.
func NullPrice(d **Decimal) NullColumn { return NullColumn{d, PriceScale, "price"} }

// NullQuantity adapts a nullable quantity column.
func NullQuantity(d **Decimal) NullColumn { return NullColumn{d, QuantityScale, "quantity"} }

// Value returns nil for a nil *Decimal, else the scaled int64.
func (c NullColumn) Value() (driver.Value, error) {
	if c.d == nil || *c.d == nil {
		return nil, nil
	}
	return Column{*c.d, c.scale, c.kind}.Value()
}

// Scan sets the destination to nil on NULL and otherwise behaves like
// Column.Scan.
func (c NullColumn) Scan(src any) error {
	if c.d == nil {
		return fmt.Errorf("money: nil **Decimal given as %s scan destination", c.kind)
	}
	if src == nil {
		*c.d = nil
		return nil
	}
	v, err := scanScaled(src, c.scale, c.kind)
	if err != nil {
		return err
	}
	*c.d = &v
	return nil
}

func scanScaled(src any, scale int32, kind string) (Decimal, error) {
	switch v := src.(type) {
	case int64:
		return FromScaled(v, scale), nil
	case string:
		return scanScaledText(v, scale, kind)
	case []byte:
		return scanScaledText(string(v), scale, kind)
	case float64, float32:
		return Decimal{}, fmt.Errorf("money: %s column returned a floating-point value (%v); it must hold an integer scaled by 10^%d", kind, v, scale)
	}
	return Decimal{}, fmt.Errorf("money: cannot scan %T into a %s column", src, kind)
}

// scanScaledText reads an integer written as text. A fraction of zeros only
// ("1500.00") is tolerated because numeric arithmetic in SQL can add a
// scale without changing the value; any other fraction means the column
// did not hold scaled integers.
func scanScaledText(s string, scale int32, kind string) (Decimal, error) {
	bad := func() (Decimal, error) {
		return Decimal{}, fmt.Errorf("money: %s column returned %s, which is not an integer scaled by 10^%d", kind, quoteShort(s), scale)
	}
	digits, frac, hasDot := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if !allDigits(digits) || len(digits) > maxScannedDigits {
		return bad()
	}
	if hasDot && (!allDigits(frac) || strings.Trim(frac, "0") != "") {
		return bad()
	}
	n, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return bad()
	}
	if strings.HasPrefix(s, "-") {
		n.Neg(n)
	}
	return Decimal{decimal.NewFromBigInt(n, -scale)}, nil
}
