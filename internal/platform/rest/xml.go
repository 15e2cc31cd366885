package rest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
)

// XML is a mapping of the JSON representation, so both formats carry the
// same data and one schema describes both: object members become child
// elements in order, array items become <item> elements, null becomes an
// element with nil="true". Reading XML back uses the schema to tell arrays,
// numbers and booleans from text.

// jsonToXML streams a JSON document as XML, keeping member order.
func jsonToXML(w *bytes.Buffer, b []byte, root string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return writeXMLValue(w, dec, root)
}

func writeXMLValue(w *bytes.Buffer, dec *json.Decoder, name string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	name = xmlName(name)
	switch t := tok.(type) {
	case json.Delim:
		w.WriteString("<" + name + ">")
		if t == '{' {
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				if err := writeXMLValue(w, dec, k.(string)); err != nil {
					return err
				}
			}
		} else {
			for dec.More() {
				if err := writeXMLValue(w, dec, "item"); err != nil {
					return err
				}
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return err
		}
		w.WriteString("</" + name + ">")
	case nil:
		w.WriteString("<" + name + ` nil="true"/>`)
	default:
		w.WriteString("<" + name + ">")
		var s string
		switch v := t.(type) {
		case string:
			s = v
		case json.Number:
			s = v.String()
		case bool:
			s = strconv.FormatBool(v)
		}
		if err := xml.EscapeText(w, []byte(s)); err != nil {
			return err
		}
		w.WriteString("</" + name + ">")
	}
	return nil
}

// xmlName makes a JSON member name a valid XML element name.
func xmlName(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	for i, c := range s {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && (c == '-' || c == '.' || (c >= '0' && c <= '9')))
		if ok {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// node is a parsed XML element.
type node struct {
	name     string
	text     strings.Builder
	children []*node
	nilAttr  bool
}

// xmlToMap parses an XML body into the generic object its schema
// describes. Type errors are left for the validator where it can name the
// field; malformed XML is 400.
func xmlToMap(b []byte, reg huma.Registry, s *huma.Schema) (map[string]any, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, apperr.New(apperr.BadRequest, "The body is not well-formed XML: %v.", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name.Local}
			for _, a := range t.Attr {
				if a.Name.Local == "nil" && a.Value == "true" {
					n.nilAttr = true
				}
			}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			} else if root != nil {
				return nil, apperr.New(apperr.BadRequest, "The XML body has more than one root element.")
			} else {
				root = n
			}
			stack = append(stack, n)
			if len(stack) > 32 {
				return nil, apperr.New(apperr.BadRequest, "The XML body is nested too deeply.")
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, apperr.New(apperr.BadRequest, "The body is empty; send an XML document.")
	}
	v := convertXML(root, reg, s)
	m, ok := v.(map[string]any)
	if !ok {
		return nil, apperr.Field("", "The XML document element must hold the resource's members.")
	}
	return m, nil
}

func resolve(reg huma.Registry, s *huma.Schema) *huma.Schema {
	if s != nil && s.Ref != "" {
		return reg.SchemaFromRef(s.Ref)
	}
	return s
}

func convertXML(n *node, reg huma.Registry, s *huma.Schema) any {
	s = resolve(reg, s)
	if n.nilAttr {
		return nil
	}
	typ := ""
	if s != nil {
		typ = s.Type
	}
	switch {
	case typ == "array":
		out := []any{}
		for _, c := range n.children {
			out = append(out, convertXML(c, reg, s.Items))
		}
		return out
	case typ == "object" || (typ == "" && len(n.children) > 0):
		out := map[string]any{}
		for _, c := range n.children {
			var prop *huma.Schema
			if s != nil {
				prop = s.Properties[c.name]
				if prop == nil && s.AdditionalProperties != nil {
					if ap, ok := s.AdditionalProperties.(*huma.Schema); ok {
						prop = ap
					}
				}
			}
			out[c.name] = convertXML(c, reg, prop)
		}
		return out
	}
	text := strings.TrimSpace(n.text.String())
	switch typ {
	case "integer":
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return float64(i)
		}
	case "number":
		if f, err := strconv.ParseFloat(text, 64); err == nil {
			return f
		}
	case "boolean":
		if b, err := strconv.ParseBool(text); err == nil {
			return b
		}
	}
	return text
}
