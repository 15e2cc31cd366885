package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
)

// Media types.
const (
	JSON           = "application/json"
	XML            = "application/xml"
	MergePatchType = "application/merge-patch+json"
)

// bodyKind reads the request's Content-Type against what the operation
// accepts: a body in another type is 415, not a guess.
func bodyKind(r *http.Request, allowXML, patch bool) (string, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return "", apperr.New(apperr.UnsupportedMedia, "Send a Content-Type: %s.", accepted(allowXML, patch))
	}
	switch {
	case patch && (mt == MergePatchType || mt == JSON):
		return JSON, nil
	case !patch && (mt == JSON || strings.HasSuffix(mt, "+json")):
		return JSON, nil
	case !patch && allowXML && (mt == XML || mt == "text/xml"):
		return XML, nil
	}
	return "", apperr.New(apperr.UnsupportedMedia, "Content-Type %s is not accepted here; send %s.", mt, accepted(allowXML, patch))
}

func accepted(allowXML, patch bool) string {
	switch {
	case patch:
		return MergePatchType
	case allowXML:
		return JSON + " or " + XML
	}
	return JSON
}

// readBody reads the whole body, turning the body limit into 413.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, apperr.New(apperr.TooLarge, "The request body is larger than %d bytes.", tooBig.Limit)
		}
		return nil, apperr.New(apperr.BadRequest, "The request body could not be read.")
	}
	return b, nil
}

// parseJSON reads one JSON object; malformed syntax is 400 with the byte
// offset, a body that is valid JSON but not an object is 422.
func parseJSON(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v any
	if err := dec.Decode(&v); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, apperr.New(apperr.BadRequest, "The body is not valid JSON: %s at byte %d.", syn.Error(), syn.Offset)
		}
		if errors.Is(err, io.EOF) {
			return nil, apperr.New(apperr.BadRequest, "The body is empty; send a JSON object.")
		}
		return nil, apperr.New(apperr.BadRequest, "The body is not valid JSON: %v.", err)
	}
	if dec.More() {
		return nil, apperr.New(apperr.BadRequest, "The body has data after its JSON value at byte %d.", dec.InputOffset())
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, apperr.Field("", "The body must be a JSON object.")
	}
	return m, nil
}

// ReadBody reads the request body (JSON, or XML when allowed) as a generic
// object, without validating it.
func (a *API) ReadBody(r *http.Request, t reflect.Type, allowXML, patch bool) (map[string]any, error) {
	kind, err := bodyKind(r, allowXML, patch)
	if err != nil {
		return nil, err
	}
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if kind == XML {
		return xmlToMap(b, a.registry, a.SchemaOf(t))
	}
	return parseJSON(b)
}

// Validate checks a generic object against the schema of t as a client
// write: wrong types, unknown members, missing required members and
// read-only members are 422, each error pointing at its member.
func (a *API) Validate(m map[string]any, t reflect.Type) error {
	s := a.SchemaOf(t)
	var fields []apperr.FieldError
	for name, prop := range s.Properties {
		if prop.ReadOnly {
			if _, ok := m[name]; ok {
				fields = append(fields, apperr.FieldError{Pointer: "/" + escape(name), Detail: name + " is read-only."})
			}
		}
	}
	res := &huma.ValidateResult{}
	huma.Validate(a.registry, s, huma.NewPathBuffer(nil, 0), huma.ModeWriteToServer, m, res)
	for _, e := range res.Errors {
		var d *huma.ErrorDetail
		if !errors.As(e, &d) {
			fields = append(fields, apperr.FieldError{Pointer: "", Detail: e.Error()})
			continue
		}
		fields = append(fields, apperr.FieldError{Pointer: pointer(d.Location, d.Message), Detail: d.Message})
	}
	if len(fields) > 0 {
		return apperr.Fields(fields...)
	}
	return nil
}

// Into fills dst from a validated generic object. A value the schema
// admits but the Go type refuses (an unknown currency, a decimal with too
// many digits) is 422 pointing at its member.
func Into(m map[string]any, dst any) error {
	if err := decodeStrict(m, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return apperr.Field("/"+strings.ReplaceAll(te.Field, ".", "/"), "expected %s", te.Type)
		}
		// The decoder does not say which member a type's own unmarshaler
		// refused; find it by decoding the members one at a time.
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var fields []apperr.FieldError
		for _, k := range keys {
			probe := reflect.New(reflect.TypeOf(dst).Elem()).Interface()
			if ferr := decodeStrict(map[string]any{k: m[k]}, probe); ferr != nil {
				fields = append(fields, apperr.FieldError{Pointer: "/" + escape(k), Detail: unmarshalDetail(ferr)})
			}
		}
		if len(fields) == 0 {
			fields = []apperr.FieldError{{Pointer: "", Detail: unmarshalDetail(err)}}
		}
		return apperr.Fields(fields...)
	}
	return nil
}

func decodeStrict(m map[string]any, dst any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("re-encode body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

// unmarshalDetail is an unmarshaler's message without the decoder's
// prefix.
func unmarshalDetail(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "json:") {
		return msg[i+2:]
	}
	return msg
}

// Decode reads, validates and converts a create or replace body.
func (a *API) Decode(r *http.Request, dst any, allowXML bool) (map[string]any, error) {
	t := reflect.TypeOf(dst).Elem()
	m, err := a.ReadBody(r, t, allowXML, false)
	if err != nil {
		return nil, err
	}
	if err := a.Validate(m, t); err != nil {
		return nil, err
	}
	return m, Into(m, dst)
}

// pointer turns a validator location ("lines[0].qty") into a JSON pointer
// ("/lines/0/qty"); a missing required member points at the member.
func pointer(loc, msg string) string {
	var b strings.Builder
	for _, part := range splitLocation(loc) {
		b.WriteByte('/')
		b.WriteString(escape(part))
	}
	if name, ok := strings.CutPrefix(msg, "expected required property "); ok {
		if name, ok = strings.CutSuffix(name, " to be present"); ok {
			b.WriteByte('/')
			b.WriteString(escape(name))
		}
	}
	return b.String()
}

func splitLocation(loc string) []string {
	var parts []string
	cur := strings.Builder{}
	flush := func() {
		if cur.Len() > 0 {
			parts = append(parts, cur.String())
			cur.Reset()
		}
	}
	for _, c := range loc {
		switch c {
		case '.', '[', ']':
			flush()
		default:
			cur.WriteRune(c)
		}
	}
	flush()
	return parts
}

// escape applies RFC 6901 escaping to one reference token.
func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
