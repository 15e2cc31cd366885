package money

import "fmt"

// RoundingMode says how a value exactly halfway between two results is
// rounded; all other values go to the nearest result.
type RoundingMode int

const (
	// HalfEven rounds a half to the even neighbour (2.345 → 2.34,
	// 2.355 → 2.36). It is the zero value so that a company without a
	// setting gets the documented default.
	HalfEven RoundingMode = iota
	// HalfUp rounds a half away from zero (2.345 → 2.35, −2.345 → −2.35),
	// as many tax authorities and tills do.
	HalfUp
)

// ParseRoundingMode reads the names used in settings and the API:
// "half_even" or "half_up".
func ParseRoundingMode(s string) (RoundingMode, error) {
	switch s {
	case "half_even":
		return HalfEven, nil
	case "half_up":
		return HalfUp, nil
	}
	return HalfEven, &invalidError{fmt.Sprintf(`%s is not a rounding mode; use "half_even" or "half_up"`, quoteShort(s))}
}

// String returns the name ParseRoundingMode accepts. Values other than the
// two constants behave as HalfEven and print as such.
func (m RoundingMode) String() string {
	if m == HalfUp {
		return "half_up"
	}
	return "half_even"
}

// MarshalText lets settings structs carry a mode as its name in JSON/XML.
func (m RoundingMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText accepts only the names ParseRoundingMode accepts.
func (m *RoundingMode) UnmarshalText(b []byte) error {
	v, err := ParseRoundingMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
