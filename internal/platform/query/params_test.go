package query

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePageSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"", 50},
		{"0", 50},
		{"000", 50},
		{"-0", 50},
		{"1", 1},
		{"7", 7},
		{"050", 50},
		{"499", 499},
		{"500", 500},
		{"501", 500},
		{"10000", 500},
		{"99999999999999999999999999", 500}, // larger than int64: still just "too big"
		{"0000000000000000000000000001", 1},
	} {
		got, err := ParsePageSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParsePageSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"-1", "must not be negative"},
		{"-500", "must not be negative"},
		{"-99999999999999999999999", "must not be negative"},
		{"abc", "whole number"},
		{"1.5", "whole number"},
		{"1e3", "whole number"},
		{"+5", "whole number"},
		{" 5", "whole number"},
		{"5 ", "whole number"},
		{"0x10", "whole number"},
		{"-", "whole number"},
		{"--1", "whole number"},
		{"٣", "whole number"}, // a non-ASCII digit
	} {
		_, err := ParsePageSize(tt.in)
		if err == nil {
			t.Errorf("ParsePageSize(%q) succeeded, want 400", tt.in)
			continue
		}
		if e := paramErr(t, err, "page_size"); !strings.Contains(e.Fields[0].Detail, tt.want) {
			t.Errorf("ParsePageSize(%q) detail = %q, want it to contain %q", tt.in, e.Fields[0].Detail, tt.want)
		}
	}
}

func TestParseFields(t *testing.T) {
	allowed := []string{"id", "name", "list_price", "status"}
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ", nil},
		{"id", []string{"id"}},
		{"id,name,list_price", []string{"id", "name", "list_price"}},
		{"list_price, id", []string{"list_price", "id"}},
		{"name,name,id,name", []string{"name", "id"}},
	} {
		got, err := ParseFields(tt.in, allowed)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseFields(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"nope", `unknown field "nope"`},
		{"id,nope", `unknown field "nope"`},
		{"Name", `unknown field "Name"`},
		{"id,,name", "item 2 of fields is empty"},
		{"id,", "item 2 of fields is empty"},
		{",", "item 1 of fields is empty"},
		{"id name", `unknown field "id name"`},
		{"*", `unknown field "*"`},
	} {
		_, err := ParseFields(tt.in, allowed)
		if err == nil {
			t.Errorf("ParseFields(%q) succeeded, want 400", tt.in)
			continue
		}
		if e := paramErr(t, err, "fields"); !strings.Contains(e.Fields[0].Detail, tt.want) {
			t.Errorf("ParseFields(%q) detail = %q, want it to contain %q", tt.in, e.Fields[0].Detail, tt.want)
		}
	}
}
