package ledger

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// The events this module records, for the catalogue and the delivery filters.
func init() {
	events.Declare(
		events.Type{Name: EventPosted, Scope: "ledger:read", Data: events.Of[Entry](),
			Description: "A journal entry was posted (also a reversal, which names the entry it reverses in reversal_of)."},
		events.Type{Name: EventCreated, Scope: "ledger:read", Data: events.Of[Entry](),
			Description: "A draft journal entry was saved (unnumbered, in no balance); entries posted at once send only posted."},
		events.Type{Name: EventDeleted, Scope: "ledger:read", Data: events.Of[events.Deleted](),
			Description: "A draft journal entry was deleted."},
		events.Type{Name: EventReversed, Scope: "ledger:read", Data: events.Of[Entry](),
			Description: "A posted journal entry was reversed: data is the original, whose reversed_by names the reversal (which sends its own posted)."},
	)
}
