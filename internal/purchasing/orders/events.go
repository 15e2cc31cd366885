package orders

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// The events this module records, for the catalogue and the delivery filters.
func init() {
	events.Declare(
		events.Type{Name: EventCreated, Scope: "purchasing:read", Data: events.Of[PurchaseOrder](),
			Description: "A purchase order was created."},
		events.Type{Name: EventSent, Scope: "purchasing:read", Data: events.Of[PurchaseOrder](),
			Description: "A purchase order was sent to the supplier."},
		events.Type{Name: EventCancelled, Scope: "purchasing:read", Data: events.Of[PurchaseOrder](),
			Description: "A purchase order was cancelled."},
		events.Type{Name: EventClosed, Scope: "purchasing:read", Data: events.Of[PurchaseOrder](),
			Description: "A purchase order was closed."},
		events.Type{Name: EventReceived, Scope: "purchasing:read", Data: events.Of[GoodsReceipt](),
			Description: "Goods were received against a purchase order."},
	)
}
