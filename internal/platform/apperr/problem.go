package apperr

import (
	"encoding/json"
	"encoding/xml"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// TypeBase prefixes the problem "type" URI; the code makes each type stable
// and documented (docs/errors.md lists them).
const TypeBase = "https://mainstay.dev/problems/"

// Problem is the RFC 9457 body, with the extension members code, request_id
// and errors.
type Problem struct {
	XMLName   xml.Name     `json:"-" xml:"urn:ietf:rfc:7807 problem"`
	Type      string       `json:"type" xml:"type"`
	Title     string       `json:"title" xml:"title"`
	Status    int          `json:"status" xml:"status"`
	Detail    string       `json:"detail,omitempty" xml:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty" xml:"instance,omitempty"`
	Code      Code         `json:"code" xml:"code"`
	RequestID string       `json:"request_id,omitempty" xml:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty" xml:"errors>i,omitempty"`
}

// ProblemOf builds the body for err. Internal errors get a generic detail
// naming the request ID; their cause is the caller's to log.
func ProblemOf(err error, instance, requestID string) Problem {
	e := As(err)
	status := e.Code.Status()
	p := Problem{
		Type:      TypeBase + string(e.Code),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    e.Message,
		Instance:  instance,
		Code:      e.Code,
		RequestID: requestID,
		Errors:    e.Fields,
	}
	if status == http.StatusInternalServerError {
		p.Code = Internal
		p.Type = TypeBase + string(Internal)
		p.Detail = "An internal error occurred."
		if requestID != "" {
			p.Detail = "An internal error occurred; quote request " + requestID + " when reporting it."
		}
		p.Errors = nil
	}
	return p
}

// WantsXML reports whether the client prefers XML to JSON: its Accept
// header ranks an XML type (application/xml, text/xml, *+xml) above every
// JSON one, honouring q-values. No Accept header, */* or a tie means JSON.
func WantsXML(r *http.Request) bool {
	jsonQ, xmlQ := Preference(r.Header.Get("Accept"))
	return xmlQ > jsonQ
}

// Preference returns the quality an Accept header gives JSON and XML.
func Preference(accept string) (jsonQ, xmlQ float64) {
	if strings.TrimSpace(accept) == "" {
		return 1, 0
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
				q = f
			}
		}
		typ, sub, _ := strings.Cut(mt, "/")
		switch {
		case mt == "*/*" || (typ == "application" && sub == "*"):
			jsonQ, xmlQ = max(jsonQ, q), max(xmlQ, q*0.5) // a wildcard prefers our default
		case sub == "json" || strings.HasSuffix(sub, "+json"):
			jsonQ = max(jsonQ, q)
		case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(sub, "+xml"):
			xmlQ = max(xmlQ, q)
		}
	}
	return jsonQ, xmlQ
}

// Write sends err as a problem document. It never fails the caller: an
// encoding error can only come from a broken connection.
func Write(w http.ResponseWriter, r *http.Request, err error, requestID string) {
	p := ProblemOf(err, r.URL.Path, requestID)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if WantsXML(r) {
		h.Set("Content-Type", "application/problem+xml")
		w.WriteHeader(p.Status)
		_, _ = w.Write([]byte(xml.Header))
		_ = xml.NewEncoder(w).Encode(p)
		return
	}
	h.Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
