package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"unicode"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
)

// Respond writes v with status, as XML when the client prefers it and the
// operation offers it, else JSON.
func Respond(w http.ResponseWriter, r *http.Request, status int, v any) error {
	return RespondNamed(w, r, status, rootName(v), v)
}

// RespondNamed is Respond with the XML document element named root, for
// values (maps) whose Go type does not name them.
func RespondNamed(w http.ResponseWriter, r *http.Request, status int, root string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept")
	if apperr.WantsXML(r) {
		var out bytes.Buffer
		out.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
		if err := jsonToXML(&out, b, root); err != nil {
			return fmt.Errorf("encode XML response: %w", err)
		}
		h.Set("Content-Type", XML+"; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(out.Bytes())
		return nil
	}
	h.Set("Content-Type", JSON)
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// NoContent answers 204.
func NoContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rootName names the XML document element after the Go type: Product →
// product, List[…] → list.
func rootName(v any) string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "value"
	}
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	if t.Kind() == reflect.Map || name == "" {
		return "object"
	}
	return snake(name)
}

func snake(s string) string {
	var b strings.Builder
	for i, c := range s {
		if unicode.IsUpper(c) {
			if i > 0 {
				b.WriteByte('_')
			}
			c = unicode.ToLower(c)
		}
		b.WriteRune(c)
	}
	return b.String()
}
