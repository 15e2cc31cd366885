package apidocs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Removal describes the property RemoveResponseProperty deleted.
type Removal struct {
	Method    string // upper case, e.g. "GET"
	Path      string // e.g. "/v1/items/{id}"
	Status    string // e.g. "200"
	MediaType string // e.g. "application/json"
	Schema    string // JSON pointer of the schema that lost the property
	Property  string
	Required  bool // whether the schema listed it as required
}

func (r Removal) String() string {
	req := "optional"
	if r.Required {
		req = "required"
	}
	return fmt.Sprintf("removed %s property %q from %s (%s %s → %s %s)",
		req, r.Property, r.Schema, r.Method, r.Path, r.Status, r.MediaType)
}

// The order Swagger UI and most specs list operations in; JSON objects have
// no order once decoded, so "first" needs one that does not depend on maps.
var methodOrder = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// RemoveResponseProperty deletes one property from the schema of a 2xx
// response in an OpenAPI document and returns the changed document. It
// exists to prove that the breaking-change check fails when a response field
// disappears, so the change must be one every client could notice.
//
// "First" is deterministic: paths, status codes, media types and property
// names in sorted order, methods in methodOrder. Local $refs (to
// components/responses or components/schemas, or anywhere in the document)
// are followed and the property is deleted where it is defined, together
// with its entry in "required". Array schemas are looked into through
// "items".
func RemoveResponseProperty(spec []byte) ([]byte, Removal, error) {
	dec := json.NewDecoder(bytes.NewReader(spec))
	// Keep numbers as written (e.g. 9007199254740993 or 1e400) rather than
	// rounding them through float64.
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, Removal{}, fmt.Errorf("decoding spec: %w", err)
	}
	paths, _ := doc["paths"].(map[string]any)
	if paths == nil {
		return nil, Removal{}, errors.New("spec has no paths")
	}

	for _, p := range sortedKeys(paths) {
		item, _ := resolve(doc, paths[p])
		for _, m := range methodOrder {
			op, _ := item[m].(map[string]any)
			responses, _ := op["responses"].(map[string]any)
			for _, status := range sortedKeys(responses) {
				if !isSuccess(status) {
					continue
				}
				resp, _ := resolve(doc, responses[status])
				content, _ := resp["content"].(map[string]any)
				for _, mt := range sortedKeys(content) {
					media, _ := content[mt].(map[string]any)
					schema, ptr := resolve(doc, media["schema"])
					if ptr == "" {
						ptr = "#/paths/" + escapePointer(p) + "/" + m + "/responses/" + status +
							"/content/" + escapePointer(mt) + "/schema"
					}
					removed, where, required, ok := removeFirstProperty(doc, schema, ptr, 0)
					if !ok {
						continue
					}
					out, err := encode(doc)
					if err != nil {
						return nil, Removal{}, err
					}
					return out, Removal{
						Method: strings.ToUpper(m), Path: p, Status: status, MediaType: mt,
						Schema: where, Property: removed, Required: required,
					}, nil
				}
			}
		}
	}
	return nil, Removal{}, errors.New("no 2xx response schema with properties found")
}

// removeFirstProperty deletes the first property of schema, looking through
// $ref and array items; depth bounds recursive schemas that never reach one.
func removeFirstProperty(doc, schema map[string]any, ptr string, depth int) (name, where string, required, ok bool) {
	if schema == nil || depth > 32 {
		return "", "", false, false
	}
	if props, _ := schema["properties"].(map[string]any); len(props) > 0 {
		name = sortedKeys(props)[0]
		delete(props, name)
		if req, _ := schema["required"].([]any); req != nil {
			if i := slices.Index(req, any(name)); i >= 0 {
				required = true
				req = slices.Delete(req, i, i+1)
				if len(req) == 0 {
					// An empty "required" is invalid in OpenAPI 3.0 schemas.
					delete(schema, "required")
				} else {
					schema["required"] = req
				}
			}
		}
		return name, ptr, required, true
	}
	if items, ok := schema["items"]; ok {
		s, p := resolve(doc, items)
		if p == "" {
			p = ptr + "/items"
		}
		return removeFirstProperty(doc, s, p, depth+1)
	}
	return "", "", false, false
}

// resolve follows local "$ref"s from v and returns the object it ends at,
// with the pointer of the last $ref taken ("" if v was not a reference).
func resolve(doc map[string]any, v any) (map[string]any, string) {
	obj, _ := v.(map[string]any)
	ptr := ""
	for range 32 {
		ref, isRef := obj["$ref"].(string)
		if !isRef || !strings.HasPrefix(ref, "#/") {
			return obj, ptr
		}
		ptr = ref
		obj = lookup(doc, ref)
	}
	return nil, ptr // a $ref cycle
}

// lookup finds a JSON pointer ("#/a/b") inside doc, or nil.
func lookup(doc map[string]any, ref string) map[string]any {
	var cur any = doc
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, _ := cur.(map[string]any)
		if m == nil {
			return nil
		}
		cur = m[tok]
	}
	m, _ := cur.(map[string]any)
	return m
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// isSuccess accepts "200".."299" and the range key "2XX".
func isSuccess(status string) bool {
	return len(status) == 3 && status[0] == '2'
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func encode(doc map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Keep descriptions with "<" or "&" readable in the diff output.
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding spec: %w", err)
	}
	return buf.Bytes(), nil
}
