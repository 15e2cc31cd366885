package orders

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// The events this module records, for the catalogue and the delivery filters.
func init() {
	events.Declare(
		events.Type{Name: EventCreated, Scope: "sales:read", Data: events.Of[SalesOrder](),
			Description: "A sales order was created (draft, or by checkout)."},
		events.Type{Name: EventConfirmed, Scope: "sales:read", Data: events.Of[SalesOrder](),
			Description: "A sales order was confirmed: its stock is reserved."},
		events.Type{Name: EventCancelled, Scope: "sales:read", Data: events.Of[SalesOrder](),
			Description: "A sales order was cancelled: its reservations are released."},
		events.Type{Name: EventEdited, Scope: "sales:read", Data: events.Of[SalesOrder](),
			Description: "A sales order was edited (lines, destination, carrier, backorders) before shipping."},
		events.Type{Name: EventShipmentCreated, Scope: "sales:read", Data: events.Of[Shipment](),
			Description: "A shipment was started at picking: its quantities are held against the order's reservation until it ships. A shipment shipped at once sends only shipped."},
		events.Type{Name: EventPacked, Scope: "sales:read", Data: events.Of[Shipment](),
			Description: "A shipment being picked was packed."},
		events.Type{Name: EventShipped, Scope: "sales:read", Data: events.Of[Shipment](),
			Description: "A shipment was shipped: stock issued and cost of goods posted."},
	)
}
