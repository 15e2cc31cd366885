// Package automation runs rules: when a trigger fires — an event from the
// feed, a signed notification from outside (an inbound hook), or a cron
// schedule in the company's time zone — and the rule's condition holds
// over the triggering event, its actions run in order, in one
// transaction, with the authority of the client that created the rule,
// checked again at every run.
//
// Actions are API operations: each action type turns its parameters (with
// values taken from the event) into calls of the same /v1 operations an
// integrator would make, executed in-process with the rule owner's
// principal. So an action can do exactly what its owner could do by
// hand, validation and scope checks included, and a dry run is the same
// execution rolled back.
package automation

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Trigger kinds.
const (
	TriggerEvent    = "event"
	TriggerInbound  = "inbound"
	TriggerSchedule = "schedule"
)

// Run statuses.
const (
	RunPending   = "pending"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunSkipped   = "skipped"
)

// MaxDepth bounds chains of rules: a run for an event that rules wrote
// MaxDepth levels deep is skipped, so rules that trigger each other (or
// themselves) stop.
const MaxDepth = 5

// Events of this module.
const (
	EventInbound   = "mainstay.automation.inbound_hook.received"
	EventCustom    = "mainstay.automation.custom_event.emitted"
	EventRunFailed = "mainstay.automation.run.failed"
)

// AutomationTrigger says when a rule runs.
type AutomationTrigger struct {
	Kind       string   `json:"kind" enum:"event,inbound,schedule" doc:"event: events of the types named; inbound: notifications to an inbound hook; schedule: a cron schedule."`
	EventTypes []string `json:"event_types,omitempty" doc:"For event: exact types or prefixes (mainstay.sales.*)."`
	HookID     string   `json:"hook_id,omitempty" doc:"For inbound: the inbound hook (ih_…)."`
	Cron       string   `json:"cron,omitempty" doc:"For schedule: five fields (minute hour day-of-month month day-of-week) or @daily, @hourly…, in the company's time zone."`
}

// AutomationAction is one step of a rule.
type AutomationAction struct {
	Type   string         `json:"type" doc:"An action type from GET /v1/automations/action-types."`
	Params map[string]any `json:"params" doc:"The action type's parameters. String values may hold {{/json/pointer}} into the triggering event (a whole-value placeholder keeps the value's JSON type), {{today}} (the company's date) and {{now}}."`
}

// Automation is an automation rule.
type Automation struct {
	ID            string             `json:"id" readOnly:"true"`
	CompanyID     string             `json:"company_id"`
	Name          string             `json:"name" minLength:"1" maxLength:"200"`
	Description   string             `json:"description,omitempty" maxLength:"2000"`
	Enabled       bool               `json:"enabled"`
	Trigger       AutomationTrigger  `json:"trigger"`
	Condition     string             `json:"condition,omitempty" maxLength:"2000" doc:"An AIP-160 filter over the event (type, subject, data.total >= \"100\", data.status = \"paid\"); empty: always."`
	Actions       []AutomationAction `json:"actions" minItems:"1" maxItems:"20"`
	OwnerClientID string             `json:"owner_client_id" readOnly:"true" doc:"The client whose authority the rule runs with."`
	NextRunAt     *string            `json:"next_run_at,omitempty" readOnly:"true" doc:"For schedules: when it fires next (RFC 3339)."`
	CreatedAt     time.Time          `json:"created_at" readOnly:"true"`
	UpdatedAt     time.Time          `json:"updated_at" readOnly:"true"`

	version     int64
	ownerScopes []string
	ownerCos    []string
	cursor      int64
}

// ETag is the rule's entity tag.
func (r Automation) ETag() string { return fmt.Sprintf(`"%d"`, r.version) }

// doc is what the rules table keeps as JSON.
type doc struct {
	Trigger   AutomationTrigger  `json:"trigger"`
	Condition string             `json:"condition"`
	Actions   []AutomationAction `json:"actions"`
}

// AutomationStep is one action's outcome in a run.
type AutomationStep struct {
	Action string          `json:"action"`
	Status string          `json:"status" doc:"succeeded, failed, or skipped (a dry run does not call outside URLs)."`
	Output json.RawMessage `json:"output,omitempty" doc:"What the action's operations answered."`
	Error  string          `json:"error,omitempty"`
}

// AutomationRun is one execution of a rule for one trigger.
type AutomationRun struct {
	ID         string           `json:"id"`
	RuleID     string           `json:"rule_id"`
	TriggerKey string           `json:"trigger_key" doc:"The event id (or schedule:<instant>): a rule runs once per trigger."`
	Input      json.RawMessage  `json:"input" doc:"The triggering event."`
	Status     string           `json:"status" doc:"pending (waiting or retrying), succeeded, failed, skipped (condition false, or loop depth reached)."`
	Attempts   int              `json:"attempts"`
	Steps      []AutomationStep `json:"steps"`
	Error      string           `json:"error,omitempty"`
	DurationMS int64            `json:"duration_ms"`
	CreatedAt  time.Time        `json:"created_at"`
	FinishedAt *time.Time       `json:"finished_at,omitempty"`
	NextTryAt  *time.Time       `json:"next_attempt_at,omitempty"`
}

// Retries is the wait after each transient failure of a run; then it
// fails for good.
var Retries = []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour}

var placeholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// expand replaces placeholders in v (recursively) with values from the
// event: {{/pointer}}, {{today}}, {{now}}. A string that is exactly one
// placeholder takes the value itself (a number stays a number).
func expand(v any, event map[string]any, today string, now time.Time) (any, error) {
	switch x := v.(type) {
	case string:
		m := placeholder.FindAllStringSubmatchIndex(x, -1)
		if len(m) == 0 {
			return x, nil
		}
		if len(m) == 1 && m[0][0] == 0 && m[0][1] == len(x) {
			return lookup(x[m[0][2]:m[0][3]], event, today, now)
		}
		var err error
		out := placeholder.ReplaceAllStringFunc(x, func(s string) string {
			key := placeholder.FindStringSubmatch(s)[1]
			val, e := lookup(key, event, today, now)
			if e != nil {
				err = e
				return ""
			}
			if str, ok := val.(string); ok {
				return str
			}
			b, _ := json.Marshal(val)
			return string(b)
		})
		return out, err
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			e, err := expand(val, event, today, now)
			if err != nil {
				return nil, err
			}
			out[k] = e
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			e, err := expand(val, event, today, now)
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	}
	return v, nil
}

func lookup(key string, event map[string]any, today string, now time.Time) (any, error) {
	switch key {
	case "today":
		return today, nil
	case "now":
		return now.UTC().Format(time.RFC3339), nil
	}
	if !strings.HasPrefix(key, "/") {
		return nil, fmt.Errorf("placeholder {{%s}}: use a JSON pointer into the event (/data/id), today or now", key)
	}
	var cur any = event
	for _, part := range strings.Split(key[1:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[part]
			if !ok {
				return nil, fmt.Errorf("placeholder {{%s}}: the event has no %q", key, part)
			}
			cur = v
		case []any:
			var i int
			if _, err := fmt.Sscanf(part, "%d", &i); err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("placeholder {{%s}}: no element %q", key, part)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("placeholder {{%s}}: %q is not inside an object or array", key, part)
		}
	}
	return cur, nil
}
