package bills

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// The events this module records, for the catalogue and the delivery filters.
func init() {
	events.Declare(
		events.Type{Name: EventCreated, Scope: "purchasing:read", Data: events.Of[Bill](),
			Description: "A supplier bill or credit was entered as a draft, with its match result; one posted at once sends only posted."},
		events.Type{Name: EventPosted, Scope: "purchasing:read", Data: events.Of[Bill](),
			Description: "A supplier bill or credit was posted to the ledger."},
		events.Type{Name: EventApproved, Scope: "purchasing:read", Data: events.Of[Bill](),
			Description: "A supplier bill held by matching was approved for payment."},
		events.Type{Name: EventBillPaid, Scope: "purchasing:read", Data: events.Of[Bill](),
			Description: "A supplier payment or credit note settled what was left open of a bill: its payment_status is paid."},
		events.Type{Name: EventBillPartiallyPaid, Scope: "purchasing:read", Data: events.Of[Bill](),
			Description: "A supplier payment or credit note settled part of a bill; open_amount says what is left."},
		events.Type{Name: EventPaid, Scope: "purchasing:read", Data: events.Of[SupplierPayment](),
			Description: "A payment to a supplier was recorded."},
	)
}
