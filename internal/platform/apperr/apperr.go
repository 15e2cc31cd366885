// Package apperr is the one error model of the API: every module returns
// *Error values (or wraps them), and one table maps their codes to HTTP
// statuses, so no handler decides a status by hand.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a stable, documented error code carried in the problem body.
type Code string

// The codes of DESIGN §4. Each has exactly one HTTP status in statusOf.
const (
	BadRequest           Code = "bad_request"            // malformed syntax, bad query parameter, page token or filter
	Unauthenticated      Code = "unauthenticated"        // no or bad token
	Forbidden            Code = "forbidden"              // missing scope
	NotFound             Code = "not_found"              // absent, or another company's
	MethodNotAllowed     Code = "method_not_allowed"     // known path, other method
	Conflict             Code = "conflict"               // conflicts with the resource's state
	PreconditionFailed   Code = "precondition_failed"    // stale If-Match
	TooLarge             Code = "request_too_large"      // body over the limit
	UnsupportedMedia     Code = "unsupported_media_type" // Content-Type we do not read
	NotAcceptable        Code = "not_acceptable"         // Accept we cannot produce
	Invalid              Code = "invalid"                // parses, but fails validation
	PreconditionRequired Code = "precondition_required"  // If-Match missing on a conditional write
	RateLimited          Code = "rate_limited"
	Internal             Code = "internal"
	Unavailable          Code = "unavailable" // not ready: database unreachable, schema behind
)

var statusOf = map[Code]int{
	BadRequest:           http.StatusBadRequest,
	Unauthenticated:      http.StatusUnauthorized,
	Forbidden:            http.StatusForbidden,
	NotFound:             http.StatusNotFound,
	MethodNotAllowed:     http.StatusMethodNotAllowed,
	Conflict:             http.StatusConflict,
	PreconditionFailed:   http.StatusPreconditionFailed,
	TooLarge:             http.StatusRequestEntityTooLarge,
	UnsupportedMedia:     http.StatusUnsupportedMediaType,
	NotAcceptable:        http.StatusNotAcceptable,
	Invalid:              http.StatusUnprocessableEntity,
	PreconditionRequired: http.StatusPreconditionRequired,
	RateLimited:          http.StatusTooManyRequests,
	Internal:             http.StatusInternalServerError,
	Unavailable:          http.StatusServiceUnavailable,
}

// Status returns the HTTP status for a code; unknown codes are 500.
func (c Code) Status() int {
	if s, ok := statusOf[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Codes lists every code with its status, for documentation and tests.
func Codes() map[Code]int {
	out := make(map[Code]int, len(statusOf))
	for c, s := range statusOf {
		out[c] = s
	}
	return out
}

// FieldError points at one offending part of the request. Pointer is a JSON
// Pointer (RFC 6901) into the body, or "query:<name>" / "header:<name>" for
// parameters, so a client can highlight the field without parsing prose.
type FieldError struct {
	Pointer string `json:"pointer" xml:"pointer"`
	Detail  string `json:"detail" xml:"detail"`
}

// Error is a failure the client may see. Message is safe to show; anything
// internal belongs in the wrapped cause, which is logged and never sent.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	cause   error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.cause }

// Is makes sentinel errors comparable by code and message, so a module's
// ErrInsufficientStock matches even after WithFields or Wrap copied it.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == e.Message
}

// New returns an error with a code and a client-safe message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field returns an Invalid error naming one field.
func Field(pointer, format string, args ...any) *Error {
	detail := fmt.Sprintf(format, args...)
	return &Error{Code: Invalid, Message: detail, Fields: []FieldError{{Pointer: pointer, Detail: detail}}}
}

// Fields returns an Invalid error carrying field errors, its message the
// first of them (with its pointer) and how many more there are.
func Fields(fields ...FieldError) *Error {
	if len(fields) == 0 {
		return New(Invalid, "The request is invalid.")
	}
	msg := fields[0].Detail
	if fields[0].Pointer != "" {
		msg = fmt.Sprintf("%s: %s", fields[0].Pointer, fields[0].Detail)
	}
	if len(fields) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(fields)-1)
	}
	return &Error{Code: Invalid, Message: msg, Fields: append([]FieldError(nil), fields...)}
}

// WithFields returns a copy of e carrying field errors.
func (e *Error) WithFields(fields ...FieldError) *Error {
	c := *e
	c.Fields = append(append([]FieldError(nil), e.Fields...), fields...)
	return &c
}

// Wrap returns a copy of e that also carries an internal cause for the log.
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}

// As extracts the *Error from err; any other error reads as Internal with a
// generic message, so causes never leak to clients.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Message: "An internal error occurred.", cause: err}
}

// CodeOf returns the code err carries, Internal when it carries none.
func CodeOf(err error) Code { return As(err).Code }
