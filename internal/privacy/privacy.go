// Package privacy answers for the personal data Mainstay holds about a
// person (GDPR articles 15 and 17): an export of everything held about a
// data subject, and erasure by destroying the subject's data key and
// blanking what is kept in clear, leaving documents, the ledger and the
// audit chain intact. Both are audited.
package privacy

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// Subject is a kind of data subject: how to read and erase one.
type Subject struct {
	// Read returns the subject's record as the API shows it, with its
	// company, or a NotFound error.
	Read func(ctx context.Context, id string) (record any, companyID string, err error)
	// Erase erases the subject's personal data.
	Erase func(ctx context.Context, id string) (any, error)
}

// Export is everything held about a data subject.
type Export struct {
	Subject    SubjectRef        `json:"subject"`
	ExportedAt time.Time         `json:"exported_at"`
	Record     json.RawMessage   `json:"record" doc:"The record as the API returns it, sensitive members included."`
	Activity   []AuditActivity   `json:"activity" doc:"Every audited action on the record."`
	Notes      map[string]string `json:"notes,omitempty"`
}

// SubjectRef names a data subject.
type SubjectRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// AuditActivity is one audited action on the subject's record.
type AuditActivity struct {
	At      time.Time `json:"at"`
	Action  string    `json:"action"`
	Actor   string    `json:"actor"`
	Outcome string    `json:"outcome"`
}

// Erased answers an erasure.
type Erased struct {
	Subject  SubjectRef      `json:"subject"`
	ErasedAt time.Time       `json:"erased_at"`
	Record   json.RawMessage `json:"record" doc:"The record as it remains."`
}

// Mount adds the data-subject routes for the given kinds of subject.
func Mount(api *rest.API, d *db.DB, subjects map[string]Subject) {
	params := []rest.Param{{Name: "type", In: "path", Description: "customer or supplier"}, {Name: "id", In: "path"}}
	find := func(r *http.Request) (string, Subject, error) {
		typ := r.PathValue("type")
		s, ok := subjects[typ]
		if !ok {
			return "", Subject{}, apperr.New(apperr.NotFound, "No kind of data subject %q.", typ)
		}
		return typ, s, nil
	}
	api.Handle(rest.Operation{
		ID: "exportDataSubject", Method: http.MethodGet, Path: "/v1/data-subjects/{type}/{id}/export", Tag: "Personal data",
		Scope: auth.PartnersSensitive, Summary: "Export everything held about a person",
		Description: "The record with its sensitive members and every audited action on it, as JSON. The export itself is audited.",
		Params:      params, Response: reflect.TypeOf(Export{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		typ, s, err := find(r)
		if err != nil {
			return err
		}
		id := r.PathValue("id")
		rec, company, err := s.Read(r.Context(), id)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		activity, err := activityOf(r.Context(), d, id)
		if err != nil {
			return err
		}
		if err := d.Transact(r.Context(), func(tx *db.Tx) error {
			return audit.Record(r.Context(), tx, audit.Entry{Action: typ + ".export", ResourceType: typ, ResourceID: id, CompanyID: company})
		}); err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, Export{Subject: SubjectRef{typ, id}, ExportedAt: d.Now(), Record: raw, Activity: activity})
	})
	api.Handle(rest.Operation{
		ID: "eraseDataSubject", Method: http.MethodPost, Path: "/v1/data-subjects/{type}/{id}/erase", Tag: "Personal data",
		Scope: auth.PartnersSensitive, Summary: "Erase a person's personal data",
		Description: "Destroys the subject's data key (its encrypted values become unreadable everywhere, backups included) and blanks what is kept in clear; the record, the documents and ledger entries referring to it and the audit chain stay. A legal hold answers 409 with its reason.",
		Params:      params, Response: reflect.TypeOf(Erased{}), Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		typ, s, err := find(r)
		if err != nil {
			return err
		}
		id := r.PathValue("id")
		rec, err := s.Erase(r.Context(), id)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, Erased{Subject: SubjectRef{typ, id}, ErasedAt: d.Now(), Record: raw})
	})
}

// activityOf lists the audited actions on a record, oldest first.
func activityOf(ctx context.Context, q db.Querier, id string) ([]AuditActivity, error) {
	rows, err := q.QueryContext(ctx, `SELECT occurred_at, action, actor, outcome FROM audit_log WHERE resource_id = $1 ORDER BY id LIMIT 10000`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AuditActivity{}
	for rows.Next() {
		var a AuditActivity
		if err := rows.Scan(&a.At, &a.Action, &a.Actor, &a.Outcome); err != nil {
			return nil, err
		}
		a.At = a.At.UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}
