package apperr

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// wantStatus is the table of DESIGN §4, written out independently of
// statusOf so that a changed mapping fails here instead of being copied.
var wantStatus = map[Code]int{
	"bad_request":            400,
	"unauthenticated":        401,
	"forbidden":              403,
	"not_found":              404,
	"method_not_allowed":     405,
	"conflict":               409,
	"precondition_failed":    412,
	"request_too_large":      413,
	"unsupported_media_type": 415,
	"not_acceptable":         406,
	"invalid":                422,
	"precondition_required":  428,
	"rate_limited":           429,
	"internal":               500,
	"unavailable":            503,
}

func TestCodeStatus(t *testing.T) {
	for code, want := range wantStatus {
		t.Run(string(code), func(t *testing.T) {
			if got := code.Status(); got != want {
				t.Errorf("Code(%q).Status() = %d, want %d", code, got, want)
			}
		})
	}
}

func TestCodesListsExactlyTheDocumentedCodes(t *testing.T) {
	got := Codes()
	if !reflect.DeepEqual(got, wantStatus) {
		t.Errorf("Codes() = %v\nwant %v", got, wantStatus)
	}
}

// Codes hands out a copy; a caller editing it must not change the statuses
// every handler relies on.
func TestCodesIsACopy(t *testing.T) {
	Codes()[NotFound] = 200
	if got := NotFound.Status(); got != 404 {
		t.Errorf("after editing Codes(), NotFound.Status() = %d, want 404", got)
	}
}

func TestUnknownCodeIsInternalServerError(t *testing.T) {
	for _, code := range []Code{"", "teapot", "NOT_FOUND", "not found"} {
		t.Run(fmt.Sprintf("%q", code), func(t *testing.T) {
			if got := code.Status(); got != 500 {
				t.Errorf("Code(%q).Status() = %d, want 500", code, got)
			}
		})
	}
}

func TestIsMatchesSentinelAfterCopies(t *testing.T) {
	sentinel := New(Conflict, "Not enough stock.")
	cause := errors.New("row locked by tx 42")
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"the sentinel itself", sentinel, true},
		{"after WithFields", sentinel.WithFields(FieldError{Pointer: "/lines/0/quantity", Detail: "too many"}), true},
		{"after Wrap", sentinel.Wrap(cause), true},
		{"after WithFields then Wrap", sentinel.WithFields(FieldError{Pointer: "/x"}).Wrap(cause), true},
		{"through fmt.Errorf %w", fmt.Errorf("reserve stock: %w", sentinel.Wrap(cause)), true},
		{"through two fmt.Errorf %w", fmt.Errorf("post order: %w", fmt.Errorf("reserve: %w", sentinel)), true},
		{"a fresh New with the same code and message", New(Conflict, "Not enough stock."), true},
		{"not the same message", New(Conflict, "Order is closed."), false},
		{"not the same code", New(Invalid, "Not enough stock."), false},
		{"not through fmt.Errorf %v", fmt.Errorf("reserve: %v", sentinel), false},
		{"not a plain error", errors.New("Not enough stock."), false},
		{"not nil", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, sentinel); got != tt.want {
				t.Errorf("errors.Is(%v, sentinel) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// Sentinels are package-level values shared by every request; the copying
// methods must leave them untouched.
func TestCopiesDoNotChangeTheSentinel(t *testing.T) {
	sentinel := New(Invalid, "Bad order.").WithFields(FieldError{Pointer: "/a", Detail: "a"})
	withMore := sentinel.WithFields(FieldError{Pointer: "/b", Detail: "b"})
	wrapped := sentinel.Wrap(errors.New("cause"))

	if len(sentinel.Fields) != 1 || sentinel.Fields[0].Pointer != "/a" {
		t.Errorf("sentinel.Fields = %v after WithFields, want only /a", sentinel.Fields)
	}
	if sentinel.Unwrap() != nil {
		t.Errorf("sentinel.Unwrap() = %v after Wrap, want nil", sentinel.Unwrap())
	}
	if want := []FieldError{{"/a", "a"}, {"/b", "b"}}; !reflect.DeepEqual(withMore.Fields, want) {
		t.Errorf("WithFields: Fields = %v, want %v", withMore.Fields, want)
	}
	// Appending to one copy must not show through another copy's slice.
	_ = withMore.WithFields(FieldError{Pointer: "/c"})
	_ = sentinel.WithFields(FieldError{Pointer: "/d"})
	if len(withMore.Fields) != 2 || withMore.Fields[1].Pointer != "/b" {
		t.Errorf("withMore.Fields = %v after further WithFields, want /a, /b", withMore.Fields)
	}
	if !reflect.DeepEqual(wrapped.Fields, sentinel.Fields) {
		t.Errorf("Wrap dropped the fields: %v, want %v", wrapped.Fields, sentinel.Fields)
	}
}

// Two handlers may extend the same sentinel at once; if WithFields appended
// into the parent's backing array, one would overwrite the other's field.
func TestWithFieldsSiblingsDoNotShareStorage(t *testing.T) {
	parent := New(Invalid, "Bad order.").WithFields(FieldError{Pointer: "/a"}, FieldError{Pointer: "/b"}, FieldError{Pointer: "/c"})
	parent = parent.WithFields(FieldError{Pointer: "/d"})
	first := parent.WithFields(FieldError{Pointer: "/first"})
	second := parent.WithFields(FieldError{Pointer: "/second"})
	if got := first.Fields[len(first.Fields)-1].Pointer; got != "/first" {
		t.Errorf("first sibling's last field = %q after making a second sibling, want /first", got)
	}
	if got := second.Fields[len(second.Fields)-1].Pointer; got != "/second" {
		t.Errorf("second sibling's last field = %q, want /second", got)
	}
	if len(parent.Fields) != 4 {
		t.Errorf("parent has %d fields after its children were made, want 4", len(parent.Fields))
	}
}

func TestWrapKeepsCauseForTheLog(t *testing.T) {
	cause := errors.New("pq: deadlock detected")
	err := New(Unavailable, "Try again.").Wrap(cause)
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(wrapped, cause) = false; the cause must stay reachable for logging")
	}
	if !strings.Contains(err.Error(), cause.Error()) {
		t.Errorf("Error() = %q, want it to include the cause %q for the log", err.Error(), cause.Error())
	}
}

func TestAs(t *testing.T) {
	t.Run("plain error reads as a generic Internal", func(t *testing.T) {
		cause := errors.New("dial tcp 10.0.0.5:5432: connection refused")
		e := As(cause)
		if e.Code != Internal {
			t.Errorf("As(plain).Code = %q, want %q", e.Code, Internal)
		}
		if strings.Contains(e.Message, "10.0.0.5") || e.Message == "" {
			t.Errorf("As(plain).Message = %q, want a generic message without the cause", e.Message)
		}
		if !errors.Is(e, cause) {
			t.Errorf("As(plain) lost the cause; it must stay reachable for logging")
		}
		if got := CodeOf(cause); got != Internal {
			t.Errorf("CodeOf(plain) = %q, want %q", got, Internal)
		}
	})
	t.Run("finds an Error through fmt.Errorf", func(t *testing.T) {
		inner := New(NotFound, "No such product.")
		e := As(fmt.Errorf("load product: %w", inner))
		if e != inner {
			t.Errorf("As(wrapped) = %#v, want the inner *Error %#v", e, inner)
		}
		if got := CodeOf(fmt.Errorf("load: %w", inner)); got != NotFound {
			t.Errorf("CodeOf(wrapped) = %q, want %q", got, NotFound)
		}
	})
}

func TestProblemOfPlainErrorHidesCause(t *testing.T) {
	cause := errors.New("pq: password authentication failed for user \"mainstay\"")
	p := ProblemOf(fmt.Errorf("load ledger: %w", cause), "/v1/ledger", "req-7f3a")
	body, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"password", "pq:", "load ledger"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("problem %s contains %q from the internal cause", body, leak)
		}
	}
	if p.Status != 500 || p.Code != Internal || p.Type != TypeBase+"internal" {
		t.Errorf("problem = status %d code %q type %q, want 500 internal %sinternal", p.Status, p.Code, p.Type, TypeBase)
	}
	if !strings.Contains(p.Detail, "req-7f3a") {
		t.Errorf("Detail = %q, want it to quote the request ID", p.Detail)
	}
}

func TestProblemOfWrappedErrorHidesCause(t *testing.T) {
	err := New(Conflict, "Order is already posted.").Wrap(errors.New("UPDATE orders SET ... returned 0 rows"))
	p := ProblemOf(err, "/v1/orders/ord_1", "req-1")
	body, _ := json.Marshal(p)
	if strings.Contains(string(body), "UPDATE") {
		t.Errorf("problem %s contains the wrapped cause", body)
	}
	if p.Detail != "Order is already posted." {
		t.Errorf("Detail = %q, want the client-safe message", p.Detail)
	}
}

func TestProblemOfFieldError(t *testing.T) {
	err := fmt.Errorf("validate: %w", Field("/lines/0/quantity", "must be at least %d", 1))
	p := ProblemOf(err, "/v1/orders", "req-9")
	want := Problem{
		Type:      TypeBase + "invalid",
		Title:     "Unprocessable Entity",
		Status:    422,
		Detail:    "must be at least 1",
		Instance:  "/v1/orders",
		Code:      Invalid,
		RequestID: "req-9",
		Errors:    []FieldError{{Pointer: "/lines/0/quantity", Detail: "must be at least 1"}},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("ProblemOf(field error) =\n%+v\nwant\n%+v", p, want)
	}
	body, _ := json.Marshal(p)
	var decoded struct {
		Errors []map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(body, &decoded); err != nil {
		t.Fatal(err)
	}
	if len(decoded.Errors) != 1 || decoded.Errors[0]["pointer"] != "/lines/0/quantity" {
		t.Errorf("JSON errors = %v, want one entry with pointer /lines/0/quantity", decoded.Errors)
	}
}

func TestProblemOfEveryCode(t *testing.T) {
	for code, status := range wantStatus {
		t.Run(string(code), func(t *testing.T) {
			p := ProblemOf(New(code, "message"), "/x", "req")
			if p.Status != status {
				t.Errorf("Status = %d, want %d", p.Status, status)
			}
			if !strings.HasSuffix(p.Type, "/"+string(code)) {
				t.Errorf("Type = %q, want it to end in /%s", p.Type, code)
			}
			if p.Code != code {
				t.Errorf("Code = %q, want %q", p.Code, code)
			}
			if p.Title != http.StatusText(status) {
				t.Errorf("Title = %q, want %q", p.Title, http.StatusText(status))
			}
		})
	}
}

// An Internal error's message and fields may carry details of the failure;
// the client gets only the request ID to quote.
func TestProblemOfInternalDropsMessageAndFields(t *testing.T) {
	err := New(Internal, "ledger sum mismatch 41.20 != 41.30").WithFields(FieldError{Pointer: "/secret", Detail: "x"})
	p := ProblemOf(err, "/v1/x", "req-abc")
	if p.Errors != nil {
		t.Errorf("Errors = %v, want none for an internal error", p.Errors)
	}
	if strings.Contains(p.Detail, "mismatch") {
		t.Errorf("Detail = %q leaks the internal message", p.Detail)
	}
	if !strings.Contains(p.Detail, "req-abc") {
		t.Errorf("Detail = %q, want it to mention request req-abc", p.Detail)
	}
}

func TestWrite(t *testing.T) {
	err := fmt.Errorf("post: %w", New(Conflict, "Order is closed.").WithFields(FieldError{Pointer: "/status", Detail: "closed"}))
	want := ProblemOf(err, "/v1/orders/ord_1", "req-42")
	for _, tt := range []struct {
		name   string
		accept string
		ctype  string
	}{
		{"XML for application/xml", "application/xml", "application/problem+xml"},
		{"XML for application/problem+xml", "application/problem+xml", "application/problem+xml"},
		{"JSON for application/json", "application/json", "application/problem+json"},
		{"JSON for */*", "*/*", "application/problem+json"},
		{"JSON without Accept", "", "application/problem+json"},
		{"JSON when both are accepted", "application/xml, application/json", "application/problem+json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/orders/ord_1", nil)
			if tt.accept != "" {
				r.Header.Set("Accept", tt.accept)
			}
			w := httptest.NewRecorder()
			Write(w, r, err, "req-42")

			if w.Code != 409 {
				t.Errorf("status = %d, want 409", w.Code)
			}
			if got := w.Header().Get("Content-Type"); got != tt.ctype {
				t.Fatalf("Content-Type = %q, want %q", got, tt.ctype)
			}
			// Error bodies differ per request and may name resources.
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}

			var got Problem
			if strings.HasSuffix(tt.ctype, "+xml") {
				if !strings.HasPrefix(w.Body.String(), "<?xml") {
					t.Errorf("XML body does not start with a declaration: %q", w.Body.String())
				}
				if err := xml.Unmarshal(w.Body.Bytes(), &got); err != nil {
					t.Fatalf("decode XML %q: %v", w.Body.String(), err)
				}
				got.XMLName = xml.Name{}
			} else if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("decode JSON %q: %v", w.Body.String(), err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded body =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestWriteXMLRootElement(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
	r.Header.Set("Accept", "application/xml")
	w := httptest.NewRecorder()
	Write(w, r, New(NotFound, "No such thing."), "req")
	var root struct {
		XMLName xml.Name
	}
	if err := xml.Unmarshal(w.Body.Bytes(), &root); err != nil {
		t.Fatal(err)
	}
	// RFC 9457 keeps RFC 7807's namespace for the XML form.
	if want := (xml.Name{Space: "urn:ietf:rfc:7807", Local: "problem"}); root.XMLName != want {
		t.Errorf("root element = %v, want %v", root.XMLName, want)
	}
}

func TestWantsXML(t *testing.T) {
	for _, tt := range []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"application/json", false},
		{"application/problem+json", false},
		{"*/*", false},
		{"text/html", false},
		{"application/xml", true},
		{"text/xml", true},
		{"application/problem+xml", true},
		{"APPLICATION/XML", true},
		{"application/xml, application/json", false},
		// q-values rank the types: XML asked for above the wildcard wins.
		{"application/xml;q=0.9, */*;q=0.1", true},
		{"application/json;q=0, application/xml", true},
		{"application/xml;q=0.5, application/json", false},
		// Neither a spreadsheet nor XHTML is XML the client asked for.
		{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", false},
		{"text/html,application/xhtml+xml", true},
	} {
		t.Run(fmt.Sprintf("Accept %q", tt.accept), func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.accept != "" {
				r.Header.Set("Accept", tt.accept)
			}
			if got := WantsXML(r); got != tt.want {
				t.Errorf("WantsXML(Accept: %q) = %v, want %v", tt.accept, got, tt.want)
			}
		})
	}
}
