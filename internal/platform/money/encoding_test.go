package money

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
)

type line struct {
	Price    Decimal  `json:"price" xml:"price,attr"`
	Quantity Decimal  `json:"quantity" xml:"quantity"`
	Discount *Decimal `json:"discount,omitempty" xml:"discount,omitempty"`
}

func TestJSONRoundTrip(t *testing.T) {
	in := `{"price":"12.50","quantity":"3.000","discount":"-0.10"}`
	var l line
	if err := json.Unmarshal([]byte(in), &l); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("round trip = %s, want %s", out, in)
	}
}

func TestJSONRefusesNumbers(t *testing.T) {
	for _, in := range []string{`12.5`, `-1`, `0`, `1e3`} {
		var d Decimal
		err := json.Unmarshal([]byte(in), &d)
		if !errors.Is(err, ErrNumberNotString) {
			t.Errorf("Unmarshal(%s) error = %v, want ErrNumberNotString", in, err)
		}
	}
	var l line
	err := json.Unmarshal([]byte(`{"price":12.5}`), &l)
	if !errors.Is(err, ErrNumberNotString) {
		t.Errorf("number in a struct field: error = %v, want ErrNumberNotString", err)
	}
	if err == nil || !strings.Contains(err.Error(), "strings") {
		t.Errorf("error should say decimals must be strings: %v", err)
	}
}

func TestJSONRejectsBadValues(t *testing.T) {
	for _, in := range []string{`"abc"`, `"1e3"`, `" 1"`, `""`, `true`, `{}`, `[]`, `"+1"`, `".5"`} {
		var d Decimal
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("Unmarshal(%s) accepted, got %s", in, d)
		}
	}
	// Escapes are decoded before the strict parse, like any JSON string.
	var d Decimal
	if err := json.Unmarshal([]byte(`"1\u002e5"`), &d); err != nil || d.String() != "1.5" {
		t.Errorf(`Unmarshal("1\u002e5") = %s, %v`, d, err)
	}
}

func TestJSONNullLeavesValue(t *testing.T) {
	l := line{Price: MustParse("1.00")}
	if err := json.Unmarshal([]byte(`{"price":null}`), &l); err != nil {
		t.Fatal(err)
	}
	if l.Price.String() != "1.00" {
		t.Errorf("null changed the value to %s", l.Price)
	}
	d := MustParse("2.5")
	if err := d.UnmarshalJSON([]byte("null")); err != nil || d.String() != "2.5" {
		t.Errorf("UnmarshalJSON(null) = %s, %v", d, err)
	}
}

func TestXMLRoundTrip(t *testing.T) {
	in := `<line price="12.50"><quantity>3.000</quantity><discount>-0.10</discount></line>`
	var l line
	if err := xml.Unmarshal([]byte(in), &l); err != nil {
		t.Fatal(err)
	}
	if l.Price.String() != "12.50" || l.Quantity.String() != "3.000" || l.Discount == nil || l.Discount.String() != "-0.10" {
		t.Fatalf("decoded %+v", l)
	}
	out, err := xml.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("round trip = %s, want %s", out, in)
	}
	for _, bad := range []string{
		`<line price="1e3"><quantity>1</quantity></line>`,
		`<line price="1"><quantity> 1 </quantity></line>`,
		`<line price="1"><quantity>NaN</quantity></line>`,
	} {
		var l line
		if err := xml.Unmarshal([]byte(bad), &l); err == nil {
			t.Errorf("xml.Unmarshal(%s) accepted", bad)
		}
	}
}
