// Package httpx holds the HTTP plumbing every route shares: request IDs,
// panic recovery, structured access logs, metrics, problem responses and a
// server that shuts down gracefully.
package httpx

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain applies middleware so the first listed is the outermost.
func Chain(h http.Handler, mw ...Middleware) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// HeaderRequestID carries the request ID both ways.
const HeaderRequestID = "X-Request-Id"

// RequestID takes the client's X-Request-Id when it is a sane token (so a
// caller can correlate its logs with ours) and makes one otherwise; it is
// echoed on every response and carried in the context.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := r.Header.Get(HeaderRequestID)
		if !validRequestID(rid) {
			rid = id.New("req")
		}
		w.Header().Set(HeaderRequestID, rid)
		ctx := reqctx.WithRequestID(r.Context(), rid)
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		ua := r.UserAgent()
		if len(ua) > 512 {
			ua = ua[:512]
		}
		next.ServeHTTP(w, r.WithContext(reqctx.WithClient(ctx, ip, ua)))
	})
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// statusWriter records what a handler wrote, for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach flush and deadlines (SSE).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Observer is told about every finished request (metrics implement it).
type Observer interface {
	Observe(r *http.Request, route string, status int, elapsed time.Duration)
}

// Log writes one structured line per request, and feeds the observer. It
// also recovers from a panic in a handler: the client gets a 500 problem,
// the log gets the stack, and the server keeps running.
func Log(log *slog.Logger, obs Observer) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					log.ErrorContext(r.Context(), "panic", "request_id", reqctx.RequestID(r.Context()),
						"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					if sw.status == 0 {
						WriteError(sw, r, fmt.Errorf("panic: %v", p))
					}
				}
				elapsed := time.Since(start)
				route := r.Pattern
				if route == "" {
					route = "unmatched"
				}
				if obs != nil {
					obs.Observe(r, route, sw.status, elapsed)
				}
				level := slog.LevelInfo
				if sw.status >= 500 {
					level = slog.LevelError
				}
				log.LogAttrs(r.Context(), level, "request",
					slog.String("request_id", reqctx.RequestID(r.Context())),
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.String("route", route),
					slog.Int("status", sw.status),
					slog.Int64("bytes", sw.bytes),
					slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
					slog.String("remote", r.RemoteAddr),
				)
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// errorLogger is where WriteError logs internal causes; the app sets it.
var errorLogger = slog.New(slog.DiscardHandler)

// SetErrorLogger sets the logger for the causes of 500 responses.
func SetErrorLogger(l *slog.Logger) { errorLogger = l }

// WriteError is the one error writer: it maps err's code to its status and
// writes a problem document; an internal error's cause goes to the log,
// never to the client.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	rid := reqctx.RequestID(r.Context())
	if apperr.CodeOf(err) == apperr.Internal {
		errorLogger.ErrorContext(r.Context(), "internal error", "request_id", rid, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	apperr.Write(w, r, err, rid)
}

// Problems turns the mux's plain-text 404 and 405 answers into problem
// documents, keeping the Allow header of a 405.
func Problems(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &headerOnly{header: http.Header{}}
		h.ServeHTTP(probe, r)
		switch probe.status {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", probe.header.Get("Allow"))
			WriteError(w, r, apperr.New(apperr.MethodNotAllowed, "%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, probe.header.Get("Allow")))
		case http.StatusNotFound, 0:
			WriteError(w, r, apperr.New(apperr.NotFound, "No resource at %s.", r.URL.Path))
		default:
			// A redirect the mux makes to clean a path.
			mux.ServeHTTP(w, r)
		}
	})
}

// headerOnly captures a status and headers and discards the body.
type headerOnly struct {
	header http.Header
	status int
}

func (h *headerOnly) Header() http.Header         { return h.header }
func (h *headerOnly) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerOnly) WriteHeader(code int)        { h.status = code }

// LimitBody refuses bodies over n bytes: at once with 413 when the
// Content-Length says so, else when a handler reads past the limit (the
// decoder turns http.MaxBytesError into 413).
func LimitBody(n int64) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				WriteError(w, r, apperr.New(apperr.TooLarge, "The request body is %d bytes; the limit is %d.", r.ContentLength, n))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}
