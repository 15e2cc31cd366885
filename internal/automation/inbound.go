package automation

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/crypto"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
)

// InboundVerification says how an inbound hook checks who sent a notification.
type InboundVerification struct {
	Scheme string `json:"scheme" enum:"standard_webhooks,hmac" doc:"standard_webhooks: webhook-id, webhook-timestamp and webhook-signature headers (Svix, and anyone signing per standardwebhooks.com); hmac: an HMAC of the body in a header of your choice."`
	// For hmac.
	Header          string `json:"header,omitempty" doc:"hmac: the header carrying the signature (X-Signature, X-Hub-Signature-256…)."`
	Algorithm       string `json:"algorithm,omitempty" enum:"sha256,sha512,sha1" doc:"hmac: default sha256."`
	Encoding        string `json:"encoding,omitempty" enum:"hex,base64" doc:"hmac: default hex."`
	Prefix          string `json:"prefix,omitempty" doc:"hmac: text before the signature in the header (sha256=)."`
	TimestampHeader string `json:"timestamp_header,omitempty" doc:"hmac: a header with the Unix time of sending; when set, the signed text is timestamp.body and old notifications are refused."`
	// For both.
	ToleranceSeconds   int    `json:"tolerance_seconds,omitempty" minimum:"0" maximum:"86400" doc:"The replay window: notifications signed longer ago (or ahead) are refused. Default 300."`
	IdempotencyPointer string `json:"idempotency_pointer,omitempty" doc:"JSON pointer to the notification's id in the body (/id, /data/object/id): a second notification with the same id is accepted without a second event. Default: the webhook-id header (standard_webhooks), required for hmac."`
}

// InboundHook is an inbound hook.
type InboundHook struct {
	ID                  string              `json:"id" readOnly:"true"`
	CompanyID           string              `json:"company_id"`
	Name                string              `json:"name"`
	Enabled             bool                `json:"enabled"`
	InboundVerification InboundVerification `json:"verification"`
	URL                 string              `json:"url" readOnly:"true" doc:"Where the outside system posts: /v1/inbound/{id} on this server."`
	CreatedAt           time.Time           `json:"created_at" readOnly:"true"`

	secret string
}

// InboundHookWithSecret is shown once, when the hook is made.
type InboundHookWithSecret struct {
	InboundHook
	Secret string `json:"secret" doc:"The shared secret (the one you gave, or a new one): configure it at the sender."`
}

// InboundHookInput creates an inbound hook.
type InboundHookInput struct {
	CompanyID           string              `json:"company_id,omitempty"`
	Name                string              `json:"name" minLength:"1" maxLength:"200"`
	Enabled             *bool               `json:"enabled,omitempty"`
	InboundVerification InboundVerification `json:"verification"`
	Secret              string              `json:"secret,omitempty" maxLength:"500" doc:"The secret the sender signs with, when it chose one (most payment providers do); default: a new one (whsec_… for standard_webhooks)."`
}

// InboundResult answers an accepted notification.
type InboundResult struct {
	EventID   string `json:"event_id"`
	Duplicate bool   `json:"duplicate" doc:"This notification's id was accepted before: no new event."`
}

// Inbound manages hooks and accepts notifications.
type Inbound struct {
	DB   *db.DB
	Keys *crypto.Keyring
}

func checkVerification(v *InboundVerification) error {
	var errs []apperr.FieldError
	add := func(ptr, msg string) {
		errs = append(errs, apperr.FieldError{Pointer: "/verification/" + ptr, Detail: msg})
	}
	switch v.Scheme {
	case "standard_webhooks":
	case "hmac":
		if v.Header == "" {
			add("header", "hmac needs the header that carries the signature.")
		}
		if v.Algorithm == "" {
			v.Algorithm = "sha256"
		}
		if v.Encoding == "" {
			v.Encoding = "hex"
		}
		if v.IdempotencyPointer == "" {
			add("idempotency_pointer", "hmac needs the JSON pointer of the notification's id, so a retried notification is recognised.")
		}
	default:
		add("scheme", "scheme is standard_webhooks or hmac.")
	}
	if v.IdempotencyPointer != "" && !strings.HasPrefix(v.IdempotencyPointer, "/") {
		add("idempotency_pointer", "A JSON pointer starts with /.")
	}
	if v.ToleranceSeconds == 0 {
		v.ToleranceSeconds = 300
	}
	if len(errs) > 0 {
		return apperr.Fields(errs...)
	}
	return nil
}

// Create makes a hook in company.
func (s *Inbound) Create(ctx context.Context, tx *db.Tx, company string, in *InboundHookInput) (InboundHookWithSecret, error) {
	if err := checkVerification(&in.InboundVerification); err != nil {
		return InboundHookWithSecret{}, err
	}
	secret := in.Secret
	if secret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return InboundHookWithSecret{}, err
		}
		secret = hex.EncodeToString(b)
		if in.InboundVerification.Scheme == "standard_webhooks" {
			secret = "whsec_" + base64.StdEncoding.EncodeToString(b)
		}
	}
	if in.InboundVerification.Scheme == "standard_webhooks" {
		if _, err := standardwebhooks.NewWebhook(secret); err != nil {
			return InboundHookWithSecret{}, apperr.Field("/secret", "A Standard Webhooks secret is whsec_ followed by base64.")
		}
	}
	p, _ := auth.FromContext(ctx)
	h := InboundHook{ID: id.New("ih"), CompanyID: company, Name: in.Name, Enabled: in.Enabled == nil || *in.Enabled, InboundVerification: in.InboundVerification, CreatedAt: tx.Now()}
	h.URL = "/v1/inbound/" + h.ID
	sealed, err := s.Keys.Encrypt(db.ContextWithTx(ctx, tx), "automation", h.ID, "secret", secret)
	if err != nil {
		return InboundHookWithSecret{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO inbound_hooks (id, company_id, name, enabled, secret, doc, owner_client_id, version, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)`, h.ID, company, h.Name, h.Enabled, sealed, jsonOf(h.InboundVerification), p.ClientID, h.CreatedAt); err != nil {
		return InboundHookWithSecret{}, fmt.Errorf("create inbound hook: %w", err)
	}
	if err := audit.Record(ctx, tx, audit.Entry{Action: "inbound_hook.create", ResourceType: "inbound_hook", ResourceID: h.ID, CompanyID: company,
		Details: map[string]any{"name": h.Name, "scheme": h.InboundVerification.Scheme}}); err != nil {
		return InboundHookWithSecret{}, err
	}
	return InboundHookWithSecret{InboundHook: h, Secret: secret}, nil
}

func scanHook(row interface{ Scan(...any) error }) (InboundHook, error) {
	var h InboundHook
	var d string
	if err := row.Scan(&h.ID, &h.CompanyID, &h.Name, &h.Enabled, &h.secret, &d, &h.CreatedAt); err != nil {
		return InboundHook{}, err
	}
	if err := json.Unmarshal([]byte(d), &h.InboundVerification); err != nil {
		return InboundHook{}, err
	}
	h.URL, h.CreatedAt = "/v1/inbound/"+h.ID, h.CreatedAt.UTC()
	return h, nil
}

const hookCols = "id, company_id, name, enabled, secret, doc, created_at"

// Get returns a hook of company.
func (s *Inbound) Get(ctx context.Context, q db.Querier, company, hookID string) (InboundHook, error) {
	h, err := scanHook(q.QueryRowContext(ctx, "SELECT "+hookCols+" FROM inbound_hooks WHERE id = $1 AND company_id = $2", hookID, company))
	if errors.Is(err, sql.ErrNoRows) {
		return InboundHook{}, apperr.New(apperr.NotFound, "No inbound hook %q.", hookID)
	}
	return h, err
}

// List returns a page of company's hooks.
func (s *Inbound) List(ctx context.Context, q db.Querier, company, after string, limit int) ([]InboundHook, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+hookCols+" FROM inbound_hooks WHERE company_id = $1 AND id > $2 ORDER BY id LIMIT $3", company, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list inbound hooks: %w", err)
	}
	return db.Collect(rows, func(rows *sql.Rows) (InboundHook, error) { return scanHook(rows) })
}

// Delete removes a hook; rules triggered by it stop matching.
func (s *Inbound) Delete(ctx context.Context, tx *db.Tx, company, hookID string) error {
	h, err := s.Get(ctx, tx, company, hookID)
	if err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM automation_rules WHERE trigger_kind = 'inbound' AND doc LIKE $1", "%\""+h.ID+"\"%").Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return apperr.New(apperr.Conflict, "Inbound hook %s triggers %d automation rule(s); delete or change them first.", h.ID, n)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM inbound_hooks WHERE id = $1", h.ID); err != nil {
		return err
	}
	return audit.Record(ctx, tx, audit.Entry{Action: "inbound_hook.delete", ResourceType: "inbound_hook", ResourceID: h.ID, CompanyID: company})
}

// MaxInbound is the largest notification body accepted.
const MaxInbound = 256 << 10

var errSignature = apperr.New(apperr.Unauthenticated, "The notification's signature does not verify with this hook's secret, or it was signed outside the replay window.")

// Receive verifies a notification and turns it into an event, once per
// notification id. Any failure to verify is the same 401, so a prober
// learns nothing about the hook.
func (s *Inbound) Receive(ctx context.Context, hookID string, header http.Header, body io.Reader, now time.Time) (InboundResult, error) {
	var h InboundHook
	var err error
	h, err = scanHook(s.DB.Reader(ctx).QueryRowContext(ctx, "SELECT "+hookCols+" FROM inbound_hooks WHERE id = $1", hookID))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !h.Enabled) {
		return InboundResult{}, apperr.New(apperr.NotFound, "No inbound hook %q.", hookID)
	}
	if err != nil {
		return InboundResult{}, err
	}
	raw, err := io.ReadAll(io.LimitReader(body, MaxInbound+1))
	if err != nil {
		return InboundResult{}, apperr.New(apperr.BadRequest, "The body could not be read.")
	}
	if len(raw) > MaxInbound {
		return InboundResult{}, apperr.New(apperr.TooLarge, "Notifications are at most %d bytes.", MaxInbound)
	}
	secret, err := s.Keys.Decrypt(ctx, h.ID, "secret", h.secret)
	if err != nil {
		return InboundResult{}, err
	}
	if err := verify(h.InboundVerification, secret, header, raw, now); err != nil {
		return InboundResult{}, errSignature.Wrap(err)
	}
	var payload any
	if err := json.Unmarshal(raw, &payload); err != nil {
		return InboundResult{}, apperr.New(apperr.BadRequest, "The notification is not JSON: %v", err)
	}
	key := header.Get("webhook-id")
	if h.InboundVerification.IdempotencyPointer != "" {
		obj, _ := payload.(map[string]any)
		v, err := lookup(h.InboundVerification.IdempotencyPointer, obj, "", now)
		if err != nil || v == nil || v == "" {
			return InboundResult{}, apperr.Field(h.InboundVerification.IdempotencyPointer, "The notification has no id at %s.", h.InboundVerification.IdempotencyPointer)
		}
		if key, _ = v.(string); key == "" {
			b, _ := json.Marshal(v)
			key = string(b)
		}
	}
	var res InboundResult
	ctx = reqctx.WithActor(ctx, "inbound:"+h.ID)
	err = s.DB.Transact(ctx, func(tx *db.Tx) error {
		res = InboundResult{}
		var existing string
		err := tx.QueryRowContext(ctx, "SELECT event_id FROM inbound_receipts WHERE hook_id = $1 AND idempotency_key = $2", h.ID, key).Scan(&existing)
		if err == nil {
			res = InboundResult{EventID: existing, Duplicate: true}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		evID, err := events.Record(ctx, tx, events.Event{Type: EventInbound, Source: "/v1/inbound/" + h.ID, Subject: h.ID, CompanyID: h.CompanyID,
			Data: InboundEvent{HookID: h.ID, IdempotencyKey: key, Payload: payload}})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO inbound_receipts (hook_id, idempotency_key, event_id, received_at) VALUES ($1, $2, $3, $4)",
			h.ID, key, evID, tx.Now()); err != nil {
			return err
		}
		res.EventID = evID
		return audit.Record(ctx, tx, audit.Entry{Action: "inbound_hook.receive", ResourceType: "inbound_hook", ResourceID: h.ID, CompanyID: h.CompanyID,
			Details: map[string]any{"event_id": evID, "idempotency_key": key}})
	})
	if err != nil && db.IsUniqueViolation(err) {
		// A concurrent delivery of the same notification won.
		return s.Receive(ctx, hookID, header, strings.NewReader(string(raw)), now)
	}
	return res, err
}

// verify checks a notification's signature and age.
func verify(v InboundVerification, secret string, header http.Header, body []byte, now time.Time) error {
	tolerance := time.Duration(v.ToleranceSeconds) * time.Second
	checkAge := func(ts string) error {
		sec, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
		if err != nil {
			return errors.New("bad timestamp")
		}
		if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
			return fmt.Errorf("signed %s from now, outside the window", d)
		}
		return nil
	}
	switch v.Scheme {
	case "standard_webhooks":
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			return err
		}
		// The library's window is fixed at five minutes against the
		// system clock; ours is the hook's, against the server's clock.
		if err := wh.VerifyIgnoringTimestamp(body, header); err != nil {
			return err
		}
		return checkAge(header.Get("webhook-timestamp"))
	case "hmac":
		var newHash func() hash.Hash
		switch v.Algorithm {
		case "sha512":
			newHash = sha512.New
		case "sha1":
			newHash = sha1.New
		default:
			newHash = sha256.New
		}
		mac := hmac.New(newHash, []byte(secret))
		if v.TimestampHeader != "" {
			ts := header.Get(v.TimestampHeader)
			if err := checkAge(ts); err != nil {
				return err
			}
			mac.Write([]byte(ts + "."))
		}
		mac.Write(body)
		sum := mac.Sum(nil)
		got := strings.TrimPrefix(strings.TrimSpace(header.Get(v.Header)), v.Prefix)
		var want string
		if v.Encoding == "base64" {
			want = base64.StdEncoding.EncodeToString(sum)
		} else {
			want = hex.EncodeToString(sum)
			got = strings.ToLower(got)
		}
		if !hmac.Equal([]byte(got), []byte(want)) {
			return errors.New("signature mismatch")
		}
		return nil
	}
	return errors.New("unknown scheme")
}
