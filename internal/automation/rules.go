package automation

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
)

// Rule events.
const (
	EventRuleCreated = "mainstay.automation.automation_rule.created"
	EventRuleUpdated = "mainstay.automation.automation_rule.updated"
	EventRuleDeleted = "mainstay.automation.automation_rule.deleted"
)

// RunFailure is the data of mainstay.automation.run.failed.
type RunFailure struct {
	RuleID string `json:"rule_id"`
	RunID  string `json:"run_id"`
	Error  string `json:"error"`
}

// InboundEvent is the data of mainstay.automation.inbound_hook.received.
type InboundEvent struct {
	HookID         string `json:"hook_id"`
	IdempotencyKey string `json:"idempotency_key"`
	Payload        any    `json:"payload" doc:"The notification's JSON body as received."`
}

func init() {
	const scope = "automation:read"
	events.Declare(
		events.Type{Name: EventRuleCreated, Scope: scope, Data: events.Of[Automation](), Description: "An automation rule was created."},
		events.Type{Name: EventRuleUpdated, Scope: scope, Data: events.Of[Automation](), Description: "An automation rule was changed or enabled/disabled."},
		events.Type{Name: EventRuleDeleted, Scope: scope, Data: events.Of[events.Deleted](), Description: "An automation rule was deleted."},
		events.Type{Name: EventRunFailed, Scope: scope, Data: events.Of[RunFailure](), Description: "An automation run failed for good (after its retries, or at once on a permanent error)."},
		events.Type{Name: EventInbound, Scope: scope, Data: events.Of[InboundEvent](), Description: "An inbound hook accepted a signed notification; rules with an inbound trigger on the hook run on it."},
		events.Type{Name: EventCustom, Scope: scope, Data: events.Of[CustomEvent](), Description: "An automation rule's emit_event action wrote a custom event."},
	)
}

// AutomationInput creates or replaces a rule.
type AutomationInput struct {
	CompanyID   string             `json:"company_id,omitempty"`
	Name        string             `json:"name" minLength:"1" maxLength:"200"`
	Description string             `json:"description,omitempty" maxLength:"2000"`
	Enabled     *bool              `json:"enabled,omitempty" doc:"Default true."`
	Trigger     AutomationTrigger  `json:"trigger"`
	Condition   string             `json:"condition,omitempty" maxLength:"2000"`
	Actions     []AutomationAction `json:"actions" minItems:"1" maxItems:"20"`
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// nextRun is when a schedule fires after t, in the company's zone.
func nextRun(spec, zone string, t time.Time) (time.Time, error) {
	s, err := cronParser.Parse(spec)
	if err != nil {
		return time.Time{}, err
	}
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" {
		loc = time.UTC
	}
	return s.Next(t.In(loc)).UTC(), nil
}

// validate checks a rule against what its owner may do.
func validate(ctx context.Context, q db.Querier, p auth.Principal, in *AutomationInput) error {
	var errs []apperr.FieldError
	add := func(ptr, format string, args ...any) {
		errs = append(errs, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	switch in.Trigger.Kind {
	case TriggerEvent:
		if len(in.Trigger.EventTypes) == 0 {
			add("/trigger/event_types", "Name at least one event type.")
		}
		for i, t := range in.Trigger.EventTypes {
			if len(events.Select([]string{t}, p.Has)) == 0 {
				add(fmt.Sprintf("/trigger/event_types/%d", i), "%q selects no event type this client may read; GET /v1/events/schema lists them.", t)
			}
		}
	case TriggerInbound:
		var company string
		err := q.QueryRowContext(ctx, "SELECT company_id FROM inbound_hooks WHERE id = $1", in.Trigger.HookID).Scan(&company)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && company != in.CompanyID) {
			add("/trigger/hook_id", "No inbound hook %q in this company.", in.Trigger.HookID)
		} else if err != nil {
			return err
		}
	case TriggerSchedule:
		if _, err := cronParser.Parse(in.Trigger.Cron); err != nil || in.Trigger.Cron == "" {
			add("/trigger/cron", "Not a cron schedule (five fields, or @daily, @hourly…): %v", err)
		}
	default:
		add("/trigger/kind", "kind is event, inbound or schedule.")
	}
	if in.Condition != "" {
		if _, err := parseCondition(in.Condition); err != nil {
			errs = append(errs, apperr.As(err).Fields...)
		}
	}
	if len(in.Actions) == 0 {
		add("/actions", "Name at least one action.")
	}
	for i, a := range in.Actions {
		errs = append(errs, checkAction(i, a, p.Has)...)
	}
	if len(errs) > 0 {
		return apperr.Fields(errs...)
	}
	return nil
}

// Service manages rules.
type Service struct {
	DB *db.DB
}

const ruleCols = `id, company_id, name, description, enabled, doc, owner_client_id, owner_scopes, owner_companies, cursor_seq,
next_run_at, version, created_at, updated_at`

func scanRule(row interface{ Scan(...any) error }) (Automation, error) {
	var r Automation
	var d, scopes, cos string
	var next sql.NullTime
	if err := row.Scan(&r.ID, &r.CompanyID, &r.Name, &r.Description, &r.Enabled, &d, &r.OwnerClientID, &scopes, &cos, &r.cursor,
		&next, &r.version, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return Automation{}, err
	}
	var dd doc
	if err := json.Unmarshal([]byte(d), &dd); err != nil {
		return Automation{}, fmt.Errorf("rule %s: %w", r.ID, err)
	}
	r.Trigger, r.Condition, r.Actions = dd.Trigger, dd.Condition, dd.Actions
	_ = json.Unmarshal([]byte(scopes), &r.ownerScopes)
	_ = json.Unmarshal([]byte(cos), &r.ownerCos)
	if next.Valid {
		s := next.Time.UTC().Format(time.RFC3339)
		r.NextRunAt = &s
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, nil
}

func loadRule(ctx context.Context, q db.Querier, company, ruleID string) (Automation, error) {
	r, err := scanRule(q.QueryRowContext(ctx, "SELECT "+ruleCols+" FROM automation_rules WHERE id = $1 AND company_id = $2", ruleID, company))
	if errors.Is(err, sql.ErrNoRows) {
		return Automation{}, apperr.New(apperr.NotFound, "No automation rule %q.", ruleID)
	}
	if err != nil {
		return Automation{}, fmt.Errorf("load rule %s: %w", ruleID, err)
	}
	return r, nil
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func companyZone(ctx context.Context, q db.Querier, companyID string) string {
	zone, _ := company.Zone(ctx, q, companyID)
	return zone
}

// Create saves a rule owned by the calling client. Event triggers start
// at the feed's head; a schedule's first run is its next time after now.
func (s *Service) Create(ctx context.Context, tx *db.Tx, company string, in *AutomationInput) (Automation, error) {
	p, _ := auth.FromContext(ctx)
	in.CompanyID = company
	if err := validate(ctx, tx, p, in); err != nil {
		return Automation{}, err
	}
	if _, err := auth.FindClient(ctx, tx, p.ClientID); err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return Automation{}, apperr.New(apperr.Forbidden, "Automation rules run with the authority of a registered API client, checked again at every run; a token from an outside identity provider cannot own one.")
		}
		return Automation{}, err
	}
	now := tx.Now()
	r := Automation{ID: id.New("aut"), CompanyID: company, Name: in.Name, Description: in.Description, Enabled: in.Enabled == nil || *in.Enabled,
		Trigger: in.Trigger, Condition: in.Condition, Actions: in.Actions, OwnerClientID: p.ClientID, CreatedAt: now, UpdatedAt: now,
		version: 1, ownerScopes: p.Scopes, ownerCos: p.Companies}
	head, err := events.Head(ctx, tx)
	if err != nil {
		return Automation{}, err
	}
	r.cursor = head
	next, err := s.schedule(ctx, tx, &r, now)
	if err != nil {
		return Automation{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO automation_rules (`+ruleCols+`, trigger_kind) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14)`,
		r.ID, r.CompanyID, r.Name, r.Description, r.Enabled, jsonOf(doc{r.Trigger, r.Condition, r.Actions}), r.OwnerClientID,
		jsonOf(nonNil(r.ownerScopes)), jsonOf(nonNil(r.ownerCos)), r.cursor, next, r.version, now, r.Trigger.Kind); err != nil {
		return Automation{}, fmt.Errorf("create rule: %w", err)
	}
	return r, publishRule(ctx, tx, r, EventRuleCreated, "automation_rule.create")
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// schedule sets a schedule rule's next run (nil for other rules).
func (s *Service) schedule(ctx context.Context, q db.Querier, r *Automation, now time.Time) (*time.Time, error) {
	r.NextRunAt = nil
	if r.Trigger.Kind != TriggerSchedule || !r.Enabled {
		return nil, nil
	}
	next, err := nextRun(r.Trigger.Cron, companyZone(ctx, q, r.CompanyID), now)
	if err != nil {
		return nil, apperr.Field("/trigger/cron", "%v", err)
	}
	str := next.Format(time.RFC3339)
	r.NextRunAt = &str
	return &next, nil
}

func publishRule(ctx context.Context, tx *db.Tx, r Automation, typ, action string) error {
	var data any = r
	if typ == EventRuleDeleted {
		data = events.Deleted{ID: r.ID, CompanyID: r.CompanyID}
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: typ, Source: "/v1/automations", Subject: r.ID, CompanyID: r.CompanyID, Data: data}); err != nil {
		return err
	}
	return audit.Record(ctx, tx, audit.Entry{Action: action, ResourceType: "automation_rule", ResourceID: r.ID, CompanyID: r.CompanyID,
		Details: map[string]any{"name": r.Name, "enabled": r.Enabled, "trigger": r.Trigger.Kind}})
}

// Update replaces a rule's definition from a merge patch applied to it.
// Whoever saves a rule owns it from then on: it runs with the editor's
// grant (narrowed at every run, as always), never with the previous
// owner's — otherwise an editor could point an administrator's rule at
// records the editor may not touch (update_record, call_url name no fixed
// scope) and have it act with the administrator's authority.
func (s *Service) Update(ctx context.Context, tx *db.Tx, company, ruleID string, check func(string) error, apply func(in *AutomationInput) error) (Automation, error) {
	p, _ := auth.FromContext(ctx)
	r, err := loadRule(ctx, tx, company, ruleID)
	if err != nil {
		return Automation{}, err
	}
	if err := check(r.ETag()); err != nil {
		return Automation{}, err
	}
	enabled := r.Enabled
	in := AutomationInput{CompanyID: company, Name: r.Name, Description: r.Description, Enabled: &enabled, Trigger: r.Trigger, Condition: r.Condition, Actions: r.Actions}
	if err := apply(&in); err != nil {
		return Automation{}, err
	}
	in.CompanyID = company
	if err := validate(ctx, tx, p, &in); err != nil {
		return Automation{}, err
	}
	wasSchedule, wasEnabled := r.Trigger.Cron, r.Enabled
	r.Name, r.Description, r.Trigger, r.Condition, r.Actions = in.Name, in.Description, in.Trigger, in.Condition, in.Actions
	r.Enabled = in.Enabled == nil || *in.Enabled
	r.OwnerClientID, r.ownerScopes, r.ownerCos = p.ClientID, p.Scopes, p.Companies
	if _, err := auth.FindClient(ctx, tx, p.ClientID); err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return Automation{}, apperr.New(apperr.Forbidden, "Automation rules run with the authority of a registered API client; a token from an outside identity provider cannot own one.")
		}
		return Automation{}, err
	}
	r.version++
	r.UpdatedAt = tx.Now()
	var next *time.Time
	if r.NextRunAt != nil && wasSchedule == r.Trigger.Cron && r.Enabled {
		t, _ := time.Parse(time.RFC3339, *r.NextRunAt)
		next = &t
	} else if next, err = s.schedule(ctx, tx, &r, r.UpdatedAt); err != nil {
		return Automation{}, err
	}
	if r.Enabled && !wasEnabled {
		// Re-enabled: act on what happens from now, not on what happened
		// while the rule was off.
		if r.cursor, err = events.Head(ctx, tx); err != nil {
			return Automation{}, err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE automation_rules SET name = $2, description = $3, enabled = $4, doc = $5, next_run_at = $6,
version = $7, updated_at = $8, trigger_kind = $9, cursor_seq = $10, owner_client_id = $11, owner_scopes = $12, owner_companies = $13 WHERE id = $1`, r.ID, r.Name, r.Description, r.Enabled, jsonOf(doc{r.Trigger, r.Condition, r.Actions}), next,
		r.version, r.UpdatedAt, r.Trigger.Kind, r.cursor, r.OwnerClientID, jsonOf(nonNil(r.ownerScopes)), jsonOf(nonNil(r.ownerCos))); err != nil {
		return Automation{}, fmt.Errorf("update rule %s: %w", r.ID, err)
	}
	return r, publishRule(ctx, tx, r, EventRuleUpdated, "automation_rule.update")
}

// Delete removes a rule and its runs.
func (s *Service) Delete(ctx context.Context, tx *db.Tx, company, ruleID string) error {
	r, err := loadRule(ctx, tx, company, ruleID)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM automation_rules WHERE id = $1", r.ID); err != nil {
		return fmt.Errorf("delete rule %s: %w", r.ID, err)
	}
	return publishRule(ctx, tx, r, EventRuleDeleted, "automation_rule.delete")
}

// List returns a page of a company's rules in id order.
func (s *Service) List(ctx context.Context, q db.Querier, company, after string, limit int) ([]Automation, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+ruleCols+" FROM automation_rules WHERE company_id = $1 AND id > $2 ORDER BY id LIMIT $3", company, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	return db.Collect(rows, scanRuleRow)
}

func scanRuleRow(rows *sql.Rows) (Automation, error) { return scanRule(rows) }

const runCols = `id, rule_id, trigger_key, input, status, attempts, steps, error, duration_ms, created_at, finished_at, next_attempt_at`

func scanRun(row interface{ Scan(...any) error }) (AutomationRun, error) {
	var r AutomationRun
	var input, steps string
	var finished sql.NullTime
	var next time.Time
	if err := row.Scan(&r.ID, &r.RuleID, &r.TriggerKey, &input, &r.Status, &r.Attempts, &steps, &r.Error, &r.DurationMS, &r.CreatedAt, &finished, &next); err != nil {
		return AutomationRun{}, err
	}
	r.Input = json.RawMessage(input)
	if err := json.Unmarshal([]byte(steps), &r.Steps); err != nil {
		return AutomationRun{}, fmt.Errorf("run %s: %w", r.ID, err)
	}
	if r.Steps == nil {
		r.Steps = []AutomationStep{}
	}
	r.CreatedAt = r.CreatedAt.UTC()
	if finished.Valid {
		t := finished.Time.UTC()
		r.FinishedAt = &t
	}
	if r.Status == RunPending {
		t := next.UTC()
		r.NextTryAt = &t
	}
	return r, nil
}

// Runs returns a page of a rule's runs, newest first.
func (s *Service) Runs(ctx context.Context, q db.Querier, company, ruleID, status, before string, limit int) ([]AutomationRun, error) {
	if _, err := loadRule(ctx, q, company, ruleID); err != nil {
		return nil, err
	}
	query := "SELECT " + runCols + " FROM automation_runs WHERE rule_id = $1"
	args := []any{ruleID}
	if before != "" {
		args = append(args, before)
		query += fmt.Sprintf(" AND id < $%d", len(args))
	}
	if status != "" {
		args = append(args, status)
		query += fmt.Sprintf(" AND status = $%d", len(args))
	}
	args = append(args, limit)
	rows, err := q.QueryContext(ctx, query+fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return db.Collect(rows, func(rows *sql.Rows) (AutomationRun, error) { return scanRun(rows) })
}

// trimErr keeps stored errors short.
func trimErr(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return strings.TrimSpace(s)
}
