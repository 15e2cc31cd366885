package events

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
)

// Type describes one event type. Every type a module records is declared
// first (Record refuses the rest), so the catalogue served at
// /v1/events/schema and printed in docs/events.md is complete by
// construction, and every delivery path knows which scope lets a
// receiver see it.
type Type struct {
	// Name is mainstay.<module>.<entity>.<past tense>.
	Name string `json:"type"`
	// Scope is what a receiver must hold to be sent the event: the read
	// scope of the API that serves the entity (payments are sales:read).
	Scope string `json:"scope"`
	// Description says when the event happens, for the catalogue.
	Description string `json:"description"`
	// Data is the Go type of the payload: the resource as the API returns
	// it (for deletions, the Deleted stub). Its JSON Schema is generated.
	Data reflect.Type `json:"-"`
}

// Deleted is the payload of every *.deleted event: the deleted record is
// gone, so the event names it and its company.
type Deleted struct {
	ID        string `json:"id"`
	CompanyID string `json:"company_id,omitempty"`
}

var (
	catalogueMu sync.RWMutex
	catalogue   = map[string]Type{}
)

// Declare adds types to the catalogue. Declaring a name twice with another
// scope or payload is a wiring bug found at start-up, so it panics; the
// same declaration twice (a module wired into two apps in one test
// binary) is fine.
func Declare(types ...Type) {
	catalogueMu.Lock()
	defer catalogueMu.Unlock()
	for _, t := range types {
		if err := checkName(t.Name); err != nil {
			panic("events: " + err.Error())
		}
		if t.Scope == "" || t.Description == "" || t.Data == nil {
			panic("events: type " + t.Name + " needs a scope, a description and a payload type")
		}
		if old, ok := catalogue[t.Name]; ok && (old.Scope != t.Scope || old.Data != t.Data) {
			panic("events: type " + t.Name + " declared twice with different scope or payload")
		}
		catalogue[t.Name] = t
	}
}

// Of is shorthand for the payload type of a declaration: Of[Invoice]().
func Of[T any]() reflect.Type { return reflect.TypeFor[T]() }

// Lookup returns the declaration of a type name.
func Lookup(name string) (Type, bool) {
	catalogueMu.RLock()
	defer catalogueMu.RUnlock()
	t, ok := catalogue[name]
	return t, ok
}

// Catalogue returns every declared type, sorted by name.
func Catalogue() []Type {
	catalogueMu.RLock()
	defer catalogueMu.RUnlock()
	out := make([]Type, 0, len(catalogue))
	for _, t := range catalogue {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Match reports whether an event type is selected by patterns: exact
// names, "*", or prefixes ending in ".*" (mainstay.sales.*).
func Match(patterns []string, typ string) bool {
	for _, p := range patterns {
		if p == "*" || p == typ {
			return true
		}
		if strings.HasSuffix(p, ".*") && strings.HasPrefix(typ, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

// Select returns the names of the declared types that patterns select
// and whose scope has grants, sorted: the types a receiver may be sent.
func Select(patterns []string, has func(scope string) bool) []string {
	var out []string
	for _, t := range Catalogue() {
		if Match(patterns, t.Name) && has(t.Scope) {
			out = append(out, t.Name)
		}
	}
	return out
}

func checkName(name string) error {
	parts := strings.Split(name, ".")
	if len(parts) != 4 || parts[0] != "mainstay" {
		return fmt.Errorf("type %q is not mainstay.<module>.<entity>.<action>", name)
	}
	for _, p := range parts[1:] {
		if p == "" || strings.Trim(p, "abcdefghijklmnopqrstuvwxyz_") != "" {
			return fmt.Errorf("type %q: each part is lower-case snake_case", name)
		}
	}
	return nil
}
