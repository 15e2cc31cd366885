package money

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNumberNotString is returned when JSON carries a decimal as a number.
// It is exported so the HTTP layer can name the offending field. Numbers are
// refused, not converted, because the client's JSON library has probably
// already turned them into floats.
var ErrNumberNotString = errors.New(`decimal numbers must be sent as JSON strings like "12.50", not as JSON numbers`)

// MarshalJSON writes the value as a JSON string with its scale ("12.50").
func (d Decimal) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.String() + `"`), nil
}

// UnmarshalJSON accepts only a JSON string holding a strict decimal (see
// Parse). JSON null leaves d unchanged, as encoding/json does for other
// types, so merge patches and optional fields keep working.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	if len(b) == 0 {
		return &invalidError{`an empty JSON value is not a decimal number; write it as a string like "12.50"`}
	}
	switch c := b[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return &invalidError{fmt.Sprintf(`%s is not a JSON string; write decimals as strings like "12.50"`, quoteShort(string(b)))}
		}
		return d.UnmarshalText([]byte(s))
	case c == '-' || (c >= '0' && c <= '9'):
		return fmt.Errorf("%w (got %s)", ErrNumberNotString, quoteShort(string(b)))
	case string(b) == "null":
		return nil
	}
	return &invalidError{fmt.Sprintf(`%s is not a decimal number; write it as a string like "12.50"`, quoteShort(string(b)))}
}

// MarshalText is used by XML (elements and attributes) and for map keys.
func (d Decimal) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses with Parse's strict rules; surrounding spaces are
// refused too, so XML and JSON accept the same spellings.
func (d *Decimal) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
