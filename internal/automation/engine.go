package automation

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/clock"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/events/safehttp"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

// Engine turns triggers into runs and executes them. Any number of
// engines (one per node) may share a database: runs are unique per rule
// and trigger, and claimed with leases.
type Engine struct {
	DB            *db.DB
	API           *rest.API
	Client        *safehttp.Client
	AllowLoopback bool
	Clock         clock.Clock
	Log           *slog.Logger
	Lease         time.Duration
	node          string
}

func (e *Engine) init() {
	if e.Clock == nil {
		e.Clock = e.DB.Clock()
	}
	if e.Log == nil {
		e.Log = slog.New(slog.DiscardHandler)
	}
	if e.Lease <= 0 {
		e.Lease = 2 * time.Minute
	}
	if e.Client == nil {
		e.Client = safehttp.New(safehttp.Options{AllowLoopback: e.AllowLoopback})
	}
	if e.node == "" {
		e.node = id.New("node")
	}
}

// Run works until ctx ends, woken by new events and every poll.
func (e *Engine) Run(ctx context.Context, poll time.Duration) {
	e.init()
	wake := e.DB.Subscribe(sequencer.SequencedTopic("outbox_events"))
	t := time.NewTicker(poll)
	defer t.Stop()
	for ctx.Err() == nil {
		if _, err := e.RunOnce(ctx); err != nil && ctx.Err() == nil {
			e.Log.Error("automation", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-t.C:
		}
	}
}

// RunOnce reads new events into runs, fires due schedules, and executes
// the due runs. It returns how many runs it executed.
func (e *Engine) RunOnce(ctx context.Context) (int, error) {
	e.init()
	if err := e.trigger(ctx); err != nil {
		return 0, err
	}
	if err := e.fireSchedules(ctx); err != nil {
		return 0, err
	}
	n := 0
	for ctx.Err() == nil {
		run, rule, ok, err := e.claim(ctx)
		if err != nil || !ok {
			return n, err
		}
		e.execute(ctx, run, rule)
		n++
	}
	return n, nil
}

// authority is the owner's grant now.
func (e *Engine) authority(ctx context.Context, r Automation) (auth.Principal, bool, string, error) {
	return auth.Authority(ctx, e.DB.Reader(ctx), auth.Principal{ClientID: r.OwnerClientID, Scopes: r.ownerScopes, Companies: r.ownerCos})
}

// trigger turns new events into runs of the event and inbound rules that
// match them (type, company, hook), idempotently per rule and event.
func (e *Engine) trigger(ctx context.Context) error {
	r := e.DB.Reader(ctx)
	head, err := events.Head(ctx, r)
	if err != nil {
		return err
	}
	rows, err := r.QueryContext(ctx, "SELECT "+ruleCols+" FROM automation_rules WHERE enabled AND trigger_kind <> 'schedule' AND cursor_seq < $1", head)
	if err != nil {
		return fmt.Errorf("automation trigger: %w", err)
	}
	rules, err := db.Collect(rows, scanRuleRow)
	if err != nil {
		return fmt.Errorf("automation trigger: %w", err)
	}
	for _, rule := range rules {
		p, ok, _, err := e.authority(ctx, rule)
		if err != nil {
			return err
		}
		var types []string
		if ok && p.CanAccessCompany(rule.CompanyID) {
			if rule.Trigger.Kind == TriggerInbound {
				types = events.Select([]string{EventInbound}, func(string) bool { return true })
			} else {
				types = events.Select(rule.Trigger.EventTypes, p.Has)
			}
		}
		if err := e.triggerRule(ctx, rule, head, types); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) triggerRule(ctx context.Context, rule Automation, head int64, types []string) error {
	err := events.Advance(ctx, e.DB, rule.cursor, head, events.Filter{Types: types, Companies: []string{rule.CompanyID}, Limit: 500},
		func(tx *db.Tx, page []events.Stored, from, to int64) (bool, error) {
			res, err := tx.ExecContext(ctx, "UPDATE automation_rules SET cursor_seq = $1 WHERE id = $2 AND cursor_seq = $3", to, rule.ID, from)
			if err != nil {
				return false, err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return false, err
			}
			for _, ev := range page {
				if rule.Trigger.Kind == TriggerInbound {
					var in InboundEvent
					if json.Unmarshal(ev.Data, &in) != nil || in.HookID != rule.Trigger.HookID {
						continue
					}
				}
				if err := insertRun(ctx, tx, rule, ev.ID, ev, ev.Depth); err != nil {
					return false, err
				}
			}
			return true, nil
		})
	if err != nil {
		return fmt.Errorf("trigger rule %s: %w", rule.ID, err)
	}
	return nil
}

func insertRun(ctx context.Context, tx *db.Tx, rule Automation, key string, input any, depth int) error {
	b, err := json.Marshal(input)
	if err != nil {
		return err
	}
	now := tx.Now()
	_, err = tx.ExecContext(ctx, `INSERT INTO automation_runs (id, rule_id, company_id, trigger_key, input, depth, status, next_attempt_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7) ON CONFLICT (rule_id, trigger_key) DO NOTHING`,
		id.New("run"), rule.ID, rule.CompanyID, key, string(b), depth, now)
	if err != nil {
		return fmt.Errorf("insert run: %w", err)
	}
	return nil
}

// ScheduleEvent is the input of a scheduled run.
type ScheduleEvent struct {
	Type        string `json:"type"`
	ScheduledAt string `json:"scheduled_at"`
	Today       string `json:"today" doc:"The scheduled instant's date in the company's time zone."`
	CompanyID   string `json:"companyid"`
}

// fireSchedules creates a run for every schedule whose time has come
// (once, also with several nodes: the run key is the scheduled instant)
// and moves the schedule to its next time after now — a schedule missed
// while no node ran fires once, not once per missed time.
func (e *Engine) fireSchedules(ctx context.Context) error {
	now := e.Clock.Now()
	rows, err := e.DB.Reader(ctx).QueryContext(ctx, "SELECT "+ruleCols+" FROM automation_rules WHERE enabled AND trigger_kind = 'schedule' AND next_run_at <= $1", now)
	if err != nil {
		return fmt.Errorf("automation schedules: %w", err)
	}
	rules, err := db.Collect(rows, scanRuleRow)
	if err != nil {
		return fmt.Errorf("automation schedules: %w", err)
	}
	for _, rule := range rules {
		err := e.DB.Transact(ctx, func(tx *db.Tx) error {
			due, _ := time.Parse(time.RFC3339, *rule.NextRunAt)
			zone := companyZone(ctx, tx, rule.CompanyID)
			next, err := nextRun(rule.Trigger.Cron, zone, now)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, "UPDATE automation_rules SET next_run_at = $1 WHERE id = $2 AND next_run_at = $3", next, rule.ID, due)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil
			}
			key := "schedule:" + due.UTC().Format(time.RFC3339)
			return insertRun(ctx, tx, rule, key, ScheduleEvent{Type: "mainstay.automation.schedule.fired", ScheduledAt: due.UTC().Format(time.RFC3339),
				Today: company.LocalDate(zone, due), CompanyID: rule.CompanyID}, 0)
		})
		if err != nil {
			return fmt.Errorf("fire schedule of %s: %w", rule.ID, err)
		}
	}
	return nil
}

type claimedRun struct {
	id, key   string
	input     []byte
	depth     int
	attempts  int
	lease     time.Time
	createdAt time.Time
	ruleID    string
	companyID string
}

// claim leases one due run.
func (e *Engine) claim(ctx context.Context) (claimedRun, Automation, bool, error) {
	now := e.Clock.Now()
	lease := now.Add(e.Lease).Truncate(time.Microsecond)
	lock := ""
	if e.DB.Engine() == db.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var c claimedRun
	var found bool
	err := e.DB.Transact(ctx, func(tx *db.Tx) error {
		var input string
		err := tx.QueryRowContext(ctx, `UPDATE automation_runs SET lease_owner = $1, leased_until = $2
WHERE id = (SELECT id FROM automation_runs WHERE status = 'pending' AND next_attempt_at <= $3 AND (leased_until IS NULL OR leased_until < $3)
            ORDER BY next_attempt_at, id LIMIT 1`+lock+`)
RETURNING id, rule_id, company_id, trigger_key, input, depth, attempts, created_at`, e.node, lease, now).
			Scan(&c.id, &c.ruleID, &c.companyID, &c.key, &input, &c.depth, &c.attempts, &c.createdAt)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		c.input, c.lease, found = []byte(input), lease, err == nil
		return err
	})
	if err != nil || !found {
		return claimedRun{}, Automation{}, false, err
	}
	rule, err := loadRule(ctx, e.DB.Reader(ctx), c.companyID, c.ruleID)
	if err != nil {
		return claimedRun{}, Automation{}, false, err
	}
	return c, rule, true, nil
}

// outcome of executing a run.
type outcome struct {
	status    string
	steps     []AutomationStep
	err       string
	transient bool
}

// errRollback ends a dry run's transaction.
var errRollback = errors.New("dry run")

// perform runs a rule's actions for an input event in one transaction as
// the rule's owner, committing unless dry. It never returns an error:
// every failure is part of the outcome.
func (e *Engine) perform(ctx context.Context, rule Automation, runID string, input []byte, depth int, dry bool, caller *auth.Principal) outcome {
	var event map[string]any
	if err := json.Unmarshal(input, &event); err != nil {
		return outcome{status: RunFailed, err: "the input is not a JSON object: " + err.Error()}
	}
	if depth >= MaxDepth {
		return outcome{status: RunSkipped, err: fmt.Sprintf("skipped: the event was written by a chain of %d automation runs (at most %d), which looks like a loop", depth, MaxDepth)}
	}
	cond, err := parseCondition(rule.Condition)
	if err != nil {
		return outcome{status: RunFailed, err: err.Error()}
	}
	if ok, err := holds(cond, event); err != nil || !ok {
		msg := "skipped: the condition does not hold"
		if err != nil {
			msg = "condition: " + err.Error()
		}
		return outcome{status: RunSkipped, err: msg}
	}
	p, ok, reason, err := e.authority(ctx, rule)
	if err != nil {
		return outcome{status: RunFailed, err: err.Error(), transient: true}
	}
	if !ok {
		return outcome{status: RunFailed, err: "not run: " + reason}
	}
	if caller != nil {
		// A dry run shows what the caller may see: the owner's authority
		// narrowed to the caller's own.
		p = intersect(p, *caller)
	}
	if !p.CanAccessCompany(rule.CompanyID) {
		return outcome{status: RunFailed, err: "not run: the client no longer works in company " + rule.CompanyID}
	}
	actx := auth.WithPrincipal(ctx, p)
	actx = reqctx.WithActor(actx, p.ClientID)
	actx = reqctx.WithRequestID(actx, runID)
	actx = events.WithCause(actx, events.Cause{Rule: rule.ID, Depth: depth + 1})
	var out outcome
	err = e.DB.Transact(actx, func(tx *db.Tx) error {
		out = outcome{status: RunSucceeded}
		x := &execution{ctx: db.ContextWithTx(actx, tx), tx: tx, api: e.API, client: e.Client, allowLoopback: e.AllowLoopback, rule: rule,
			runID: runID, company: rule.CompanyID, today: company.LocalDate(companyZone(actx, tx, rule.CompanyID), tx.Now()), event: event, dry: dry}
		for i, a := range rule.Actions {
			x.step = i
			params, err := expand(a.Params, event, x.today, tx.Now())
			if err != nil {
				out.steps = append(out.steps, AutomationStep{Action: a.Type, Status: RunFailed, Error: err.Error()})
				out.status, out.err = RunFailed, fmt.Sprintf("action %d (%s): %v", i+1, a.Type, err)
				return errRollback
			}
			t := actionTypes[a.Type]
			if t == nil {
				out.status, out.err = RunFailed, fmt.Sprintf("action %d: unknown type %s", i+1, a.Type)
				return errRollback
			}
			res, err := t.run(x, params.(map[string]any))
			step := AutomationStep{Action: a.Type, Status: RunSucceeded}
			if res != nil {
				if raw, ok := res.(json.RawMessage); ok {
					step.Output = raw
				} else {
					step.Output, _ = json.Marshal(res)
				}
			}
			if err != nil {
				step.Status, step.Error = RunFailed, err.Error()
				out.steps = append(out.steps, step)
				out.status, out.err = RunFailed, fmt.Sprintf("action %d (%s): %v", i+1, a.Type, err)
				var te transientError
				out.transient = errors.As(err, &te)
				return errRollback
			}
			out.steps = append(out.steps, step)
		}
		if dry {
			return errRollback
		}
		return audit.Record(x.ctx, tx, audit.Entry{Action: "automation_run.succeeded", ResourceType: "automation_rule", ResourceID: rule.ID,
			CompanyID: rule.CompanyID, Details: map[string]any{"run_id": runID, "actions": len(rule.Actions)}})
	})
	if err != nil && !errors.Is(err, errRollback) {
		return outcome{status: RunFailed, steps: out.steps, err: err.Error(), transient: true}
	}
	if out.status == RunFailed {
		for i := range out.steps {
			if out.steps[i].Status == RunSucceeded && !dry {
				out.steps[i].Status = "rolled_back"
			}
		}
	}
	return out
}

// execute performs a claimed run and records its outcome: done, retried
// later on a transient failure, or failed (with an event and an audit
// row).
func (e *Engine) execute(ctx context.Context, c claimedRun, rule Automation) {
	start := time.Now()
	out := e.perform(ctx, rule, c.id, c.input, c.depth, false, nil)
	now := e.Clock.Now()
	attempts := c.attempts + 1
	status, next, finished := out.status, now, sql.NullTime{Time: now, Valid: true}
	if out.status == RunFailed && out.transient && attempts <= len(Retries) {
		status, next, finished = RunPending, now.Add(Retries[attempts-1]), sql.NullTime{}
	}
	if out.steps == nil {
		out.steps = []AutomationStep{}
	}
	ctx = context.WithoutCancel(ctx)
	err := e.DB.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE automation_runs SET status = $1, attempts = $2, next_attempt_at = $3, steps = $4, error = $5,
duration_ms = $6, finished_at = $7, lease_owner = '', leased_until = NULL WHERE id = $8 AND lease_owner = $9 AND leased_until = $10`,
			status, attempts, next, jsonOf(out.steps), trimErr(out.err), time.Since(start).Milliseconds(), finished, c.id, e.node, c.lease)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 || (status != RunFailed && status != RunSkipped) {
			return nil
		}
		actx := reqctx.WithActor(ctx, rule.OwnerClientID)
		if status == RunSkipped {
			return audit.Record(actx, tx, audit.Entry{Action: "automation_run.skipped", ResourceType: "automation_rule", ResourceID: rule.ID,
				CompanyID: rule.CompanyID, Details: map[string]any{"run_id": c.id, "reason": trimErr(out.err)}})
		}
		if _, err := events.Record(actx, tx, events.Event{Type: EventRunFailed, Source: "/v1/automations", Subject: rule.ID, CompanyID: rule.CompanyID,
			Data: RunFailure{RuleID: rule.ID, RunID: c.id, Error: trimErr(out.err)}}); err != nil {
			return err
		}
		return audit.Record(actx, tx, audit.Entry{Action: "automation_run.failed", ResourceType: "automation_rule", ResourceID: rule.ID,
			CompanyID: rule.CompanyID, Outcome: audit.Failure, Details: map[string]any{"run_id": c.id, "error": trimErr(out.err)}})
	})
	if err != nil {
		e.Log.Error("record automation run", "run", c.id, "err", err)
	}
}

// Test runs a rule on a sample event without writing anything (call_url
// actions are not called) and returns what would have happened.
func (e *Engine) Test(ctx context.Context, company, ruleID string, event map[string]any) (AutomationRun, error) {
	e.init()
	rule, err := loadRule(ctx, e.DB.Reader(ctx), company, ruleID)
	if err != nil {
		return AutomationRun{}, err
	}
	if event == nil {
		return AutomationRun{}, apperr.Field("/event", "Give a sample event.")
	}
	input, _ := json.Marshal(event)
	start := time.Now()
	caller, _ := auth.FromContext(ctx)
	out := e.perform(ctx, rule, "dry_"+id.New("run"), input, 0, true, &caller)
	if out.steps == nil {
		out.steps = []AutomationStep{}
	}
	return AutomationRun{RuleID: rule.ID, TriggerKey: "test", Input: input, Status: out.status, Steps: out.steps, Error: out.err,
		DurationMS: time.Since(start).Milliseconds(), CreatedAt: e.Clock.Now()}, nil
}

// intersect is what both principals may do: the scopes both hold, in the
// companies both work in.
func intersect(a, b auth.Principal) auth.Principal {
	out := auth.Principal{ClientID: a.ClientID, Roles: a.Roles}
	for _, s := range a.Scopes {
		if b.Has(s) {
			out.Scopes = append(out.Scopes, s)
		}
	}
	switch {
	case len(a.Companies) == 0:
		out.Companies = b.Companies
	case len(b.Companies) == 0:
		out.Companies = a.Companies
	default:
		for _, c := range a.Companies {
			if b.CanAccessCompany(c) {
				out.Companies = append(out.Companies, c)
			}
		}
		if len(out.Companies) == 0 {
			out.ClientID = "" // no company in common: can work in none
		}
	}
	return out
}
