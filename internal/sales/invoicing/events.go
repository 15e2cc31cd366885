package invoicing

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// The events this module records, for the catalogue and the delivery filters.
func init() {
	events.Declare(
		events.Type{Name: EventCreated, Scope: "sales:read", Data: events.Of[Invoice](),
			Description: "A draft invoice was created (not numbered or posted yet); an invoice finalized at once sends only finalized."},
		events.Type{Name: EventFinalized, Scope: "sales:read", Data: events.Of[Invoice](),
			Description: "An invoice or credit note was finalized: numbered and posted to the ledger."},
		events.Type{Name: EventPaid, Scope: "sales:read", Data: events.Of[Invoice](),
			Description: "A payment (or an application of a payment's credit) settled what was left open of an invoice: its payment_status is paid."},
		events.Type{Name: EventPartiallyPaid, Scope: "sales:read", Data: events.Of[Invoice](),
			Description: "A payment (or an application of a payment's credit) settled part of an invoice; open_amount says what is left."},
		events.Type{Name: EventReturned, Scope: "sales:read", Data: events.Of[CustomerReturn](),
			Description: "Goods came back from a customer; the credit note is in data."},
	)
}
