package money

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// MaxDigits bounds the digits Parse accepts. Thirty digits exceed every
// storage range by far, and the bound keeps hostile input from costing
// big-integer work.
const MaxDigits = 30

var (
	// ErrInvalid is wrapped by every error about text that is not a
	// decimal number, so callers can map it to a validation failure.
	ErrInvalid = errors.New("money: not a decimal number")
	// ErrDivisionByZero is returned by DivRound instead of panicking,
	// because divisors often come from user data.
	ErrDivisionByZero = errors.New("money: division by zero")
)

// invalidError carries a sentence meant for the API client while still
// matching ErrInvalid with errors.Is.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return ErrInvalid }

// Decimal is an exact decimal number that keeps the scale it was written
// with. The zero value is 0. Compare with Equal or Cmp, not ==, because
// 1.0 and 1.00 are equal numbers with different representations.
type Decimal struct{ d decimal.Decimal }

// Parse reads a decimal written as an optional "-", digits, and optionally
// "." followed by digits. Anything looser ("+1", "1e3", " 1", ".5", "5.",
// "NaN") is refused: lenient parsing would let two spellings of one value
// reach the ledger and would hide client bugs.
func Parse(s string) (Decimal, error) {
	if s == "" {
		return Decimal{}, &invalidError{`an empty string is not a decimal number; write it as a string like "12.50"`}
	}
	notDecimal := func() error {
		return &invalidError{fmt.Sprintf("%s is not a decimal number; write it as a string like \"12.50\"", quoteShort(s))}
	}
	// Checked before scanning so the cost is bounded by MaxDigits, not len(s).
	if len(s) > MaxDigits+2 {
		if countDigits(s) > MaxDigits {
			return Decimal{}, &invalidError{fmt.Sprintf("%s has more than %d digits", quoteShort(s), MaxDigits)}
		}
		return Decimal{}, notDecimal()
	}
	body := s
	if body[0] == '-' {
		body = body[1:]
	}
	intPart, fracPart, hasDot := strings.Cut(body, ".")
	if !allDigits(intPart) || (hasDot && !allDigits(fracPart)) {
		return Decimal{}, notDecimal()
	}
	if len(intPart)+len(fracPart) > MaxDigits {
		return Decimal{}, &invalidError{fmt.Sprintf("%s has more than %d digits", quoteShort(s), MaxDigits)}
	}
	coef, ok := new(big.Int).SetString(intPart+fracPart, 10)
	if !ok {
		return Decimal{}, notDecimal()
	}
	if s[0] == '-' {
		coef.Neg(coef)
	}
	return Decimal{decimal.NewFromBigInt(coef, -int32(len(fracPart)))}, nil
}

// MustParse is Parse for constants and tests; it panics on invalid input,
// so never call it with data from outside the program.
func MustParse(s string) Decimal {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// New returns value × 10^exp, so New(1250, -2) is 12.50.
func New(value int64, exp int32) Decimal { return Decimal{decimal.New(value, exp)} }

// FromInt returns the integer v with scale 0.
func FromInt(v int64) Decimal { return Decimal{decimal.NewFromInt(v)} }

// String prints the value with its scale ("12.50" stays "12.50"), never in
// exponent notation. It does not use shopspring's String, which trims
// trailing zeros and obeys package-global switches.
func (d Decimal) String() string {
	return format(d.d.Coefficient(), d.d.Exponent())
}

// StringFixed prints the value with exactly places decimal places, rounding
// half-even when places is below the scale.
func (d Decimal) StringFixed(places int32) string {
	return d.Round(places, HalfEven).String()
}

// Add returns d + o exactly; the scale is the larger of the two.
func (d Decimal) Add(o Decimal) Decimal { return Decimal{d.d.Add(o.d)} }

// Sub returns d − o exactly; the scale is the larger of the two.
func (d Decimal) Sub(o Decimal) Decimal { return Decimal{d.d.Sub(o.d)} }

// Mul returns d × o exactly; the scale is the sum of the two scales, so
// callers round the product (e.g. with RoundAmount) where a rule applies.
func (d Decimal) Mul(o Decimal) Decimal { return Decimal{d.d.Mul(o.d)} }

// Neg returns −d with the same scale.
func (d Decimal) Neg() Decimal { return Decimal{d.d.Neg()} }

// Abs returns |d| with the same scale.
func (d Decimal) Abs() Decimal { return Decimal{d.d.Abs()} }

// Cmp compares numerically: -1 if d < o, 0 if equal, +1 if d > o.
func (d Decimal) Cmp(o Decimal) int { return d.d.Cmp(o.d) }

// Equal reports numeric equality, so 1.0 equals 1.00.
func (d Decimal) Equal(o Decimal) bool { return d.d.Cmp(o.d) == 0 }

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int { return d.d.Sign() }

// IsZero reports whether d is 0 at any scale.
func (d Decimal) IsZero() bool { return d.d.Sign() == 0 }

// IsNegative reports whether d < 0.
func (d Decimal) IsNegative() bool { return d.d.Sign() < 0 }

// Scale is the number of decimal places as written: 2 for "12.50", 0 for
// "12".
func (d Decimal) Scale() int32 {
	if e := d.d.Exponent(); e < 0 {
		return -e
	}
	return 0
}

// Normalize drops trailing fractional zeros ("12.500" → "12.5", "3.00" →
// "3"). Values read from scaled columns carry the column's scale; this is
// for callers that want the shortest form instead.
func (d Decimal) Normalize() Decimal {
	exp := d.d.Exponent()
	if exp >= 0 {
		return d
	}
	c := d.d.Coefficient()
	if c.Sign() == 0 {
		return Decimal{}
	}
	q, r := new(big.Int), new(big.Int)
	for exp < 0 {
		q.QuoRem(c, bigTen, r)
		if r.Sign() != 0 {
			break
		}
		c.Set(q)
		exp++
	}
	return Decimal{decimal.NewFromBigInt(c, exp)}
}

// Round returns d rounded to places decimal places with the given mode. The
// result always has exactly places decimal places (12.5 rounded to 2 is
// 12.50), so it prints the way the rule says it should. A negative places
// rounds to tens, hundreds, and so on.
func (d Decimal) Round(places int32, mode RoundingMode) Decimal {
	c, exp := d.d.Coefficient(), int64(d.d.Exponent())
	shift := exp + int64(places)
	if shift >= 0 {
		// Only adds zeros: no rounding needed.
		c.Mul(c, pow10(shift))
		return Decimal{decimal.NewFromBigInt(c, -places)}
	}
	return Decimal{decimal.NewFromBigInt(roundQuo(c, pow10(-shift), mode), -places)}
}

// DivRound returns d ÷ o rounded to places decimal places with the given
// mode. The quotient is computed exactly before rounding, so the result is
// correctly rounded even where the decimal expansion does not terminate.
func (d Decimal) DivRound(o Decimal, places int32, mode RoundingMode) (Decimal, error) {
	if o.IsZero() {
		return Decimal{}, fmt.Errorf("%w: %s / %s", ErrDivisionByZero, d, o)
	}
	// d/o × 10^places = cd × 10^(ed−eo+places) / co.
	n, den := d.d.Coefficient(), o.d.Coefficient()
	shift := int64(d.d.Exponent()) - int64(o.d.Exponent()) + int64(places)
	// Guards the power of ten below against absurd exponents or places,
	// which only programming errors produce.
	if shift > maxShift || shift < -maxShift {
		return Decimal{}, fmt.Errorf("money: dividing %s by %s to %d places is out of range", d, o, places)
	}
	if shift >= 0 {
		n.Mul(n, pow10(shift))
	} else {
		den.Mul(den, pow10(-shift))
	}
	if den.Sign() < 0 {
		n.Neg(n)
		den.Neg(den)
	}
	return Decimal{decimal.NewFromBigInt(roundQuo(n, den, mode), -places)}, nil
}

// Decimal exposes the underlying shopspring value for edges (formatting
// libraries, drivers) that need it; business code should stay on Decimal.
func (d Decimal) Decimal() decimal.Decimal { return d.d }

const maxShift = 1000

var bigTen = big.NewInt(10)

func pow10(n int64) *big.Int {
	return new(big.Int).Exp(bigTen, big.NewInt(n), nil)
}

// roundQuo returns n/den (den > 0) rounded to an integer with mode. Both
// modes round to nearest and differ only on an exact half.
func roundQuo(n, den *big.Int, mode RoundingMode) *big.Int {
	q, r := new(big.Int).QuoRem(n, den, new(big.Int))
	if r.Sign() == 0 {
		return q
	}
	// Compare |2r| with den to learn whether we are below, at or above half.
	twice := new(big.Int).Abs(r)
	twice.Lsh(twice, 1)
	c := twice.Cmp(den)
	// q is truncated towards zero, so "away from zero" is q + sign(n);
	// under half-even an odd q means the even neighbour is away from zero.
	if c > 0 || (c == 0 && (mode == HalfUp || q.Bit(0) == 1)) {
		q.Add(q, big.NewInt(int64(r.Sign())))
	}
	return q
}

// format prints coef × 10^exp in plain notation with max(0, −exp) places.
func format(coef *big.Int, exp int32) string {
	s := coef.String()
	if exp >= 0 {
		if coef.Sign() == 0 || exp == 0 {
			return s
		}
		return s + strings.Repeat("0", int(exp))
	}
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	places := int(-exp)
	if len(s) <= places {
		s = strings.Repeat("0", places-len(s)+1) + s
	}
	return sign + s[:len(s)-places] + "." + s[len(s)-places:]
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

// quoteShort quotes s for an error message, cut short so a huge or hostile
// input does not end up whole in responses and logs.
func quoteShort(s string) string {
	const limit = 40
	if len(s) > limit {
		// Cut on a rune boundary so the quoted text stays valid UTF-8.
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q…", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}
