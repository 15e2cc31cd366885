package webhooks

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/crypto"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/events/safehttp"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
)

// Endpoint is a subscription: where to send which events.
type Endpoint struct {
	ID            string   `json:"id" readOnly:"true"`
	URL           string   `json:"url" doc:"https URL the events are POSTed to."`
	Description   string   `json:"description,omitempty"`
	EventTypes    []string `json:"event_types" doc:"Event types to receive: exact names, prefixes such as mainstay.sales.*, or *."`
	CompanyIDs    []string `json:"company_ids,omitempty" doc:"Only these companies' events; empty: every company the owner works in."`
	Enabled       bool     `json:"enabled"`
	Status        string   `json:"status" readOnly:"true" doc:"active, failing (deliveries have kept failing for a day; still retried) or disabled."`
	StatusReason  string   `json:"status_reason,omitempty" readOnly:"true"`
	OwnerClientID string   `json:"owner_client_id" readOnly:"true" doc:"The client whose scopes and companies filter what this endpoint receives."`
	// PreviousSecretExpiresAt is set during a secret rotation: until then
	// every delivery is signed with both secrets.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty" readOnly:"true"`
	LastSuccessAt           *time.Time `json:"last_success_at,omitempty" readOnly:"true"`
	CreatedAt               time.Time  `json:"created_at" readOnly:"true"`
	UpdatedAt               time.Time  `json:"updated_at" readOnly:"true"`

	version     int64
	secret      string // sealed
	prevSecret  string // sealed
	cursor      int64
	ownerScopes []string
	ownerCos    []string
}

// ETag is the endpoint's entity tag, for If-Match.
func (e Endpoint) ETag() string { return fmt.Sprintf(`"%d"`, e.version) }

// WithSecret is an endpoint with its signing secret, shown when it is made
// and when the secret is rotated, never again.
type WithSecret struct {
	Endpoint
	Secret string `json:"secret" doc:"The signing secret (whsec_…), shown only now. Verify deliveries with any Standard Webhooks library."`
}

// Input creates an endpoint.
type Input struct {
	URL         string   `json:"url" maxLength:"2000"`
	Description string   `json:"description,omitempty" maxLength:"500"`
	EventTypes  []string `json:"event_types" minItems:"1" maxItems:"100"`
	CompanyIDs  []string `json:"company_ids,omitempty" maxItems:"100"`
	Enabled     *bool    `json:"enabled,omitempty" doc:"Defaults to true."`
}

// Patch changes an endpoint (JSON merge patch: absent members stay).
type Patch struct {
	URL         *string   `json:"url,omitempty" maxLength:"2000"`
	Description *string   `json:"description,omitempty" maxLength:"500"`
	EventTypes  *[]string `json:"event_types,omitempty" minItems:"1" maxItems:"100"`
	CompanyIDs  *[]string `json:"company_ids,omitempty" maxItems:"100"`
	Enabled     *bool     `json:"enabled,omitempty" doc:"true re-enables an endpoint disabled by a 410 or by its owner; deliveries resume where they stopped."`
}

// Service manages endpoints.
type Service struct {
	DB            *db.DB
	Keys          *crypto.Keyring
	AllowLoopback bool
}

const keyOwner = "webhooks"

// canSee: an endpoint is its owner's; client administrators see all.
func canSee(p auth.Principal, e Endpoint) bool {
	return e.OwnerClientID == p.ClientID || p.Has(auth.Scope("clients", auth.Read))
}

func canManage(p auth.Principal, e Endpoint) bool {
	return e.OwnerClientID == p.ClientID || p.Has(auth.Scope("clients", auth.Write))
}

func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b), nil
}

// validate checks what a client asks for against what it may receive.
func (s *Service) validate(p auth.Principal, url string, types, cos []string) error {
	var fields []apperr.FieldError
	if err := safehttp.CheckURL(url, s.AllowLoopback); err != nil {
		fields = append(fields, apperr.FieldError{Pointer: "/url", Detail: "The URL " + err.Error() + "."})
	}
	for i, t := range types {
		ptr := fmt.Sprintf("/event_types/%d", i)
		if t == "*" || (len(t) > 2 && t[len(t)-2:] == ".*") {
			if len(events.Select([]string{t}, func(string) bool { return true })) == 0 {
				fields = append(fields, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf("%q selects no event type; GET /v1/events/schema lists them.", t)})
			}
			continue
		}
		typ, ok := events.Lookup(t)
		if !ok {
			fields = append(fields, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf("No event type %q; GET /v1/events/schema lists them.", t)})
			continue
		}
		if !p.Has(typ.Scope) {
			fields = append(fields, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf("Receiving %s needs the scope %s, which this client does not hold.", t, typ.Scope)})
		}
	}
	for i, c := range cos {
		if !p.CanAccessCompany(c) {
			fields = append(fields, apperr.FieldError{Pointer: fmt.Sprintf("/company_ids/%d", i), Detail: fmt.Sprintf("This client does not work in company %q.", c)})
		}
	}
	if len(fields) > 0 {
		return apperr.Fields(fields...)
	}
	return nil
}

// Create registers an endpoint owned by the calling client, starting at
// the feed's head: it receives what happens from now on (replay reaches
// back).
func (s *Service) Create(ctx context.Context, in Input) (WithSecret, error) {
	p, _ := auth.FromContext(ctx)
	if in.EventTypes == nil {
		in.EventTypes = []string{}
	}
	if err := s.validate(p, in.URL, in.EventTypes, in.CompanyIDs); err != nil {
		return WithSecret{}, err
	}
	if _, err := auth.FindClient(ctx, s.DB.Reader(ctx), p.ClientID); err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return WithSecret{}, apperr.New(apperr.Forbidden,
				"Webhook endpoints belong to registered API clients, whose access is checked again at every delivery; a token from an outside identity provider cannot own one.")
		}
		return WithSecret{}, err
	}
	secret, err := newSecret()
	if err != nil {
		return WithSecret{}, err
	}
	e := Endpoint{
		ID: id.New("whe"), URL: in.URL, Description: in.Description, EventTypes: in.EventTypes, CompanyIDs: in.CompanyIDs,
		Enabled: in.Enabled == nil || *in.Enabled, Status: StatusActive, OwnerClientID: p.ClientID,
		ownerScopes: p.Scopes, ownerCos: p.Companies,
	}
	if !e.Enabled {
		e.Status, e.StatusReason = StatusDisabled, "disabled by its owner"
	}
	if e.secret, err = s.Keys.Encrypt(ctx, keyOwner, e.ID, "secret", secret); err != nil {
		return WithSecret{}, err
	}
	err = s.DB.Transact(ctx, func(tx *db.Tx) error {
		if e.cursor, err = events.Head(ctx, tx); err != nil {
			return err
		}
		now := tx.Now()
		e.CreatedAt, e.UpdatedAt, e.version = now, now, 1
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_endpoints
(id, owner_client_id, owner_scopes, owner_companies, url, description, event_types, company_ids, enabled, status, status_reason,
 secret, cursor_seq, version, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)`,
			e.ID, e.OwnerClientID, jsonList(e.ownerScopes), jsonList(e.ownerCos), e.URL, e.Description, jsonList(e.EventTypes),
			jsonList(e.CompanyIDs), e.Enabled, e.Status, e.StatusReason, e.secret, e.cursor, e.version, now)
		if err != nil {
			return fmt.Errorf("create webhook endpoint: %w", err)
		}
		return publish(ctx, tx, e, EventCreated, "webhook_endpoint.create", nil)
	})
	if err != nil {
		return WithSecret{}, err
	}
	return WithSecret{Endpoint: e, Secret: secret}, nil
}

func publish(ctx context.Context, tx *db.Tx, e Endpoint, typ, action string, details map[string]any) error {
	var data any = e
	if typ == EventDeleted {
		data = events.Deleted{ID: e.ID}
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: typ, Subject: e.ID, Source: "/v1/webhook-endpoints", Data: data}); err != nil {
		return err
	}
	if details == nil {
		details = map[string]any{}
	}
	details["url"] = e.URL
	return audit.Record(ctx, tx, audit.Entry{Action: action, ResourceType: "webhook_endpoint", ResourceID: e.ID, Details: details})
}

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

const endpointCols = `id, owner_client_id, owner_scopes, owner_companies, url, description, event_types, company_ids, enabled, status,
status_reason, secret, previous_secret, previous_secret_expires_at, cursor_seq, version, last_success_at, created_at, updated_at`

func scanEndpoint(row interface{ Scan(...any) error }) (Endpoint, error) {
	var e Endpoint
	var scopes, cos, types, filter string
	var prevExp, lastOK sql.NullTime
	err := row.Scan(&e.ID, &e.OwnerClientID, &scopes, &cos, &e.URL, &e.Description, &types, &filter, &e.Enabled, &e.Status,
		&e.StatusReason, &e.secret, &e.prevSecret, &prevExp, &e.cursor, &e.version, &lastOK, &e.CreatedAt, &e.UpdatedAt)
	if err != nil {
		return Endpoint{}, err
	}
	for _, f := range []struct {
		raw string
		dst *[]string
	}{{scopes, &e.ownerScopes}, {cos, &e.ownerCos}, {types, &e.EventTypes}, {filter, &e.CompanyIDs}} {
		if err := json.Unmarshal([]byte(f.raw), f.dst); err != nil {
			return Endpoint{}, fmt.Errorf("endpoint %s: %w", e.ID, err)
		}
	}
	if len(e.ownerCos) == 0 {
		e.ownerCos = nil // every company
	}
	if len(e.CompanyIDs) == 0 {
		e.CompanyIDs = nil
	}
	if prevExp.Valid {
		t := prevExp.Time.UTC()
		e.PreviousSecretExpiresAt = &t
	}
	if lastOK.Valid {
		t := lastOK.Time.UTC()
		e.LastSuccessAt = &t
	}
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return e, nil
}

func load(ctx context.Context, q db.Querier, endpointID string, lock bool) (Endpoint, error) {
	query := "SELECT " + endpointCols + " FROM webhook_endpoints WHERE id = $1"
	if lock {
		if tx, ok := q.(*db.Tx); ok && tx.Engine() == db.Postgres {
			query += " FOR UPDATE"
		}
	}
	e, err := scanEndpoint(q.QueryRowContext(ctx, query, endpointID))
	if errors.Is(err, sql.ErrNoRows) {
		return Endpoint{}, notFound(endpointID)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("load webhook endpoint %s: %w", endpointID, err)
	}
	return e, nil
}

func notFound(endpointID string) error {
	return apperr.New(apperr.NotFound, "No webhook endpoint %q.", endpointID)
}

// Get returns an endpoint the caller may see.
func (s *Service) Get(ctx context.Context, endpointID string) (Endpoint, error) {
	e, err := load(ctx, s.DB.Reader(ctx), endpointID, false)
	if err != nil {
		return Endpoint{}, err
	}
	if p, _ := auth.FromContext(ctx); !canSee(p, e) {
		return Endpoint{}, notFound(endpointID)
	}
	return e, nil
}

// List returns a page of the endpoints the caller may see, in id order.
func (s *Service) List(ctx context.Context, after string, limit int) ([]Endpoint, error) {
	p, _ := auth.FromContext(ctx)
	query, args := "SELECT "+endpointCols+" FROM webhook_endpoints WHERE id > $1", []any{after}
	if !p.Has(auth.Scope("clients", auth.Read)) {
		query += " AND owner_client_id = $3"
		args = append(args, limit, p.ClientID)
	} else {
		args = append(args, limit)
	}
	rows, err := s.DB.Reader(ctx).QueryContext(ctx, query+" ORDER BY id LIMIT $2", args...)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	return db.Collect(rows, scanEndpointRow)
}

func scanEndpointRow(rows *sql.Rows) (Endpoint, error) { return scanEndpoint(rows) }

// modify runs fn on the locked endpoint the caller may manage, checking
// ifMatch when given, and saves it with a new version.
func (s *Service) modify(ctx context.Context, endpointID string, check func(etag string) error, fn func(tx *db.Tx, e *Endpoint) (string, map[string]any, error)) (Endpoint, error) {
	p, _ := auth.FromContext(ctx)
	var out Endpoint
	err := s.DB.Transact(ctx, func(tx *db.Tx) error {
		e, err := load(ctx, tx, endpointID, true)
		if err != nil {
			return err
		}
		if !canSee(p, e) {
			return notFound(endpointID)
		}
		if !canManage(p, e) {
			return apperr.New(apperr.Forbidden, "Only the owning client or a client administrator (clients:write) may change this endpoint.")
		}
		if check != nil {
			if err := check(e.ETag()); err != nil {
				return err
			}
		}
		event, details, err := fn(tx, &e)
		if err != nil {
			return err
		}
		e.version++
		e.UpdatedAt = tx.Now()
		if err := save(ctx, tx, e); err != nil {
			return err
		}
		out = e
		return publish(ctx, tx, e, event, "webhook_endpoint.update", details)
	})
	return out, err
}

func save(ctx context.Context, tx *db.Tx, e Endpoint) error {
	_, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, company_ids = $5,
enabled = $6, status = $7, status_reason = $8, secret = $9, previous_secret = $10, previous_secret_expires_at = $11,
version = $12, updated_at = $13 WHERE id = $1`,
		e.ID, e.URL, e.Description, jsonList(e.EventTypes), jsonList(e.CompanyIDs), e.Enabled, e.Status, e.StatusReason,
		e.secret, e.prevSecret, e.PreviousSecretExpiresAt, e.version, e.UpdatedAt)
	if err != nil {
		return fmt.Errorf("save webhook endpoint %s: %w", e.ID, err)
	}
	return nil
}

// Update applies a patch; check applies the caller's If-Match.
func (s *Service) Update(ctx context.Context, endpointID string, check func(etag string) error, in Patch) (Endpoint, error) {
	p, _ := auth.FromContext(ctx)
	return s.modify(ctx, endpointID, check, func(tx *db.Tx, e *Endpoint) (string, map[string]any, error) {
		url, types, cos := e.URL, e.EventTypes, e.CompanyIDs
		var changed []string
		if in.URL != nil {
			url = *in.URL
			changed = append(changed, "url")
		}
		if in.EventTypes != nil {
			types = *in.EventTypes
			changed = append(changed, "event_types")
		}
		if in.CompanyIDs != nil {
			cos = *in.CompanyIDs
			changed = append(changed, "company_ids")
		}
		// The filters are checked against the caller's grant: an
		// administrator editing someone's endpoint cannot give it more
		// than the administrator holds, and the owner's grant narrows it
		// again at delivery.
		if err := s.validate(p, url, types, cos); err != nil {
			return "", nil, err
		}
		e.URL, e.EventTypes, e.CompanyIDs = url, types, cos
		if in.Description != nil {
			e.Description = *in.Description
			changed = append(changed, "description")
		}
		if in.Enabled != nil && *in.Enabled != e.Enabled {
			changed = append(changed, "enabled")
			e.Enabled = *in.Enabled
			if e.Enabled {
				e.Status, e.StatusReason = StatusActive, ""
			} else {
				e.Status, e.StatusReason = StatusDisabled, "disabled by "+p.ClientID
			}
		}
		return EventUpdated, map[string]any{"fields": changed}, nil
	})
}

// Rotate replaces the signing secret. The previous one keeps signing (a
// second signature in webhook-signature) for keepPrevious, so receivers
// can switch without missing a delivery; zero drops it at once.
func (s *Service) Rotate(ctx context.Context, endpointID string, keepPrevious time.Duration) (WithSecret, error) {
	secret, err := newSecret()
	if err != nil {
		return WithSecret{}, err
	}
	sealed, err := s.Keys.Encrypt(ctx, keyOwner, endpointID, "secret", secret)
	if err != nil {
		return WithSecret{}, err
	}
	e, err := s.modify(ctx, endpointID, nil, func(tx *db.Tx, e *Endpoint) (string, map[string]any, error) {
		e.prevSecret, e.PreviousSecretExpiresAt = "", nil
		if keepPrevious > 0 {
			current, err := s.Keys.Decrypt(ctx, e.ID, "secret", e.secret)
			if err != nil {
				return "", nil, err
			}
			if e.prevSecret, err = s.Keys.Encrypt(db.ContextWithTx(ctx, tx), keyOwner, e.ID, "previous_secret", current); err != nil {
				return "", nil, err
			}
			t := tx.Now().Add(keepPrevious)
			e.PreviousSecretExpiresAt = &t
		}
		e.secret = sealed
		return EventUpdated, map[string]any{"fields": []string{"secret"}, "previous_valid_for": keepPrevious.String()}, nil
	})
	if err != nil {
		return WithSecret{}, err
	}
	return WithSecret{Endpoint: e, Secret: secret}, nil
}

// Delete removes an endpoint and its delivery history.
func (s *Service) Delete(ctx context.Context, endpointID string) error {
	p, _ := auth.FromContext(ctx)
	return s.DB.Transact(ctx, func(tx *db.Tx) error {
		e, err := load(ctx, tx, endpointID, true)
		if err != nil {
			return err
		}
		if !canSee(p, e) {
			return notFound(endpointID)
		}
		if !canManage(p, e) {
			return apperr.New(apperr.Forbidden, "Only the owning client or a client administrator (clients:write) may delete this endpoint.")
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM webhook_endpoints WHERE id = $1", e.ID); err != nil {
			return fmt.Errorf("delete webhook endpoint %s: %w", e.ID, err)
		}
		return publish(ctx, tx, e, EventDeleted, "webhook_endpoint.delete", nil)
	})
}

// secrets returns the secrets deliveries are signed with now: the
// current one, and the previous one while a rotation lasts.
func (s *Service) secrets(ctx context.Context, e Endpoint, now time.Time) ([]string, error) {
	cur, err := s.Keys.Decrypt(ctx, e.ID, "secret", e.secret)
	if err != nil {
		return nil, err
	}
	out := []string{cur}
	if e.prevSecret != "" && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
		prev, err := s.Keys.Decrypt(ctx, e.ID, "previous_secret", e.prevSecret)
		if err != nil {
			return nil, err
		}
		out = append(out, prev)
	}
	return out, nil
}
