// Package idempotency makes POST retries safe, with Stripe's semantics: a
// client sends Idempotency-Key; the first execution's status and body are
// stored (in the database, so they survive restarts and are shared by
// nodes) for 24 hours and replayed for the same key and body; the same key
// with another body is 422; the same key while the first request is still
// running is 409. Requests rejected before execution (400, 401, 403, 422,
// 429) store nothing, so they can be corrected and retried with the key.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/httpx"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
)

// Header is the request header carrying the key.
const Header = "Idempotency-Key"

// ReplayedHeader marks a replayed response.
const ReplayedHeader = "Idempotent-Replayed"

// TTL is how long a key's response is kept.
const TTL = 24 * time.Hour

// Lease is how long a running request holds its key. A node that dies
// mid-request frees the key after it, unless the request had already
// committed a change (then the key stays taken, never re-executed).
const Lease = 2 * time.Minute

// States of a key.
const (
	running  = "running"
	executed = "executed" // a business change committed; response not stored yet
	done     = "done"
)

// notStored are statuses of requests rejected before they changed anything.
var notStored = map[int]bool{400: true, 401: true, 403: true, 413: true, 415: true, 422: true, 428: true, 429: true}

// Middleware applies keys to POST requests that carry one. It must run
// after authentication: keys are scoped to the client.
func Middleware(d *db.DB) httpx.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := r.Header.Get(Header)
			if r.Method != http.MethodPost || key == "" {
				next.ServeHTTP(w, r)
				return
			}
			if err := serve(d, w, r, key, next); err != nil {
				httpx.WriteError(w, r, err)
			}
		})
	}
}

func serve(d *db.DB, w http.ResponseWriter, r *http.Request, key string, next http.Handler) error {
	if len(key) > 255 || !printable(key) {
		return apperr.New(apperr.BadRequest, "Idempotency-Key must be 1 to 255 printable ASCII characters.").
			WithFields(apperr.FieldError{Pointer: "header:Idempotency-Key", Detail: "1 to 255 printable ASCII characters"})
	}
	client := reqctx.Actor(r.Context())
	if client == "" {
		return apperr.New(apperr.Unauthenticated, "No credentials.")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return apperr.New(apperr.TooLarge, "The request body is larger than %d bytes.", tooBig.Limit)
		}
		return apperr.New(apperr.BadRequest, "The request body could not be read.")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	fp := fingerprint(r, body)

	stored, err := claim(r.Context(), d, client, key, fp)
	if err != nil {
		return err
	}
	if stored != nil {
		replay(w, stored)
		return nil
	}

	// Marking the key executed inside the business transaction means a
	// crash after that commit can never lead to a second execution.
	ctx := db.WithCommitHook(r.Context(), func(ctx context.Context, tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET state = $1 WHERE client_id = $2 AND idem_key = $3`, executed, client, key)
		return err
	})
	rec := &recorder{ResponseWriter: w, header: http.Header{}}
	next.ServeHTTP(rec, r.WithContext(ctx))
	rec.flush()

	// Stored with a fresh context: the client may have gone, the response
	// must still be kept for its retry.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if notStored[rec.status] {
		_, err = d.ExecContext(sctx, `DELETE FROM idempotency_keys WHERE client_id = $1 AND idem_key = $2 AND state = $3`, client, key, running)
	} else {
		headers, _ := json.Marshal(keep(rec.header))
		_, err = d.ExecContext(sctx, `UPDATE idempotency_keys SET state = $1, status = $2, headers = $3, body = $4
WHERE client_id = $5 AND idem_key = $6`, done, rec.status, string(headers), rec.body.Bytes(), client, key)
	}
	// The response has gone out whatever happens here; a failure to store
	// it only means a retry gets 409 instead of a replay, never a second
	// execution.
	_ = err
	return nil
}

// response is a stored response.
type response struct {
	status  int
	headers map[string]string
	body    []byte
}

// claim takes the key for this request, or returns the stored response to
// replay, or the error to answer.
func claim(ctx context.Context, d *db.DB, client, key, fp string) (*response, error) {
	var out *response
	err := d.Transact(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		lock := ""
		if tx.Engine() == db.Postgres {
			lock = " FOR UPDATE"
		}
		var state, gotFP, headers string
		var status sql.NullInt64
		var body []byte
		var leased, expires time.Time
		err := tx.QueryRowContext(ctx, `SELECT state, fingerprint, status, headers, body, locked_until, expires_at
FROM idempotency_keys WHERE client_id = $1 AND idem_key = $2`+lock, client, key).
			Scan(&state, &gotFP, &status, &headers, &body, &leased, &expires)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO idempotency_keys
(client_id, idem_key, fingerprint, state, headers, locked_until, created_at, expires_at)
VALUES ($1, $2, $3, $4, '{}', $5, $6, $7)`, client, key, fp, running, now.Add(Lease), now, now.Add(TTL))
			if db.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "A request with this Idempotency-Key is in progress; retry later.")
			}
			return err
		case err != nil:
			return fmt.Errorf("read idempotency key: %w", err)
		}
		if now.After(expires) {
			_, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET fingerprint = $1, state = $2, status = NULL, headers = '{}',
body = NULL, locked_until = $3, created_at = $4, expires_at = $5 WHERE client_id = $6 AND idem_key = $7`,
				fp, running, now.Add(Lease), now, now.Add(TTL), client, key)
			return err
		}
		if gotFP != fp {
			return apperr.New(apperr.Invalid, "This Idempotency-Key was used with a different request; use a new key for a new request.").
				WithFields(apperr.FieldError{Pointer: "header:Idempotency-Key", Detail: "already used with another request"})
		}
		switch state {
		case done:
			out = &response{status: int(status.Int64), body: body}
			_ = json.Unmarshal([]byte(headers), &out.headers)
			return nil
		case executed:
			return apperr.New(apperr.Conflict, "A request with this Idempotency-Key changed data but its response was not kept; read the resource to see the result.")
		}
		if now.Before(leased) {
			return apperr.New(apperr.Conflict, "A request with this Idempotency-Key is in progress; retry later.")
		}
		// The node running it died before changing anything: take over.
		_, err = tx.ExecContext(ctx, `UPDATE idempotency_keys SET locked_until = $1 WHERE client_id = $2 AND idem_key = $3`,
			now.Add(Lease), client, key)
		return err
	})
	return out, err
}

func replay(w http.ResponseWriter, s *response) {
	for k, v := range s.headers {
		w.Header().Set(k, v)
	}
	w.Header().Set(ReplayedHeader, "true")
	w.WriteHeader(s.status)
	_, _ = w.Write(s.body)
}

// Prune deletes expired keys.
func Prune(ctx context.Context, d *db.DB) (int64, error) {
	res, err := d.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE expires_at < $1`, d.Now())
	if err != nil {
		return 0, fmt.Errorf("prune idempotency keys: %w", err)
	}
	return res.RowsAffected()
}

// fingerprint identifies the request: same key with another method, path,
// query or body is another request.
func fingerprint(r *http.Request, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s?%s\n%s\n", r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// keep selects the headers worth replaying.
func keep(h http.Header) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"Content-Type", "Location", "Etag"} {
		if v := h.Get(k); v != "" {
			out[k] = v
		}
	}
	return out
}

// recorder tees a response: it is written to the client and kept.
type recorder struct {
	http.ResponseWriter
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.ResponseWriter.Header() }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// flush sends the kept response; buffering first lets the status be
// stored whatever the handler did.
func (r *recorder) flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.header = r.ResponseWriter.Header().Clone()
	r.ResponseWriter.WriteHeader(r.status)
	_, _ = r.ResponseWriter.Write(r.body.Bytes())
}
