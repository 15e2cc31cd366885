package counts

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// The events this module records, for the catalogue and the delivery filters.
func init() {
	events.Declare(
		events.Type{Name: EventCreated, Scope: "inventory:read", Data: events.Of[StockCount](),
			Description: "A stock count sheet was created as a draft, with the book quantities of the moment."},
		events.Type{Name: EventPosted, Scope: "inventory:read", Data: events.Of[StockCount](),
			Description: "A stock count was posted: its differences became adjustments."},
	)
}
