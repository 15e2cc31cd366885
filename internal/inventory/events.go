package inventory

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// The events this module records, for the catalogue and the delivery filters.
func init() {
	events.Declare(
		events.Type{Name: EventPosted, Scope: "inventory:read", Data: events.Of[StockMove](),
			Description: "A stock move was posted (receipt, issue, transfer, adjustment, return, or a reversal)."},
		events.Type{Name: EventReversed, Scope: "inventory:read", Data: events.Of[StockMove](),
			Description: "A stock move was reversed: data is the original, whose reversed_by names the reversal (which sends its own posted)."},
		events.Type{Name: EventReserved, Scope: "inventory:read", Data: events.Of[StockReservation](),
			Description: "Stock was reserved for a document (a confirmed sales order, or a reservation made through the API); one event per reservation."},
		events.Type{Name: EventReleased, Scope: "inventory:read", Data: events.Of[StockReservation](),
			Description: "A reservation was released (its document cancelled, edited or released); one event per reservation. Reservations used up by shipping are told by the issue's stock_move.posted."},
		events.Type{Name: EventHoldPlaced, Scope: "inventory:read", Data: events.Of[StockHold](),
			Description: "Available stock was put on hold (quality control)."},
		events.Type{Name: EventHoldLifted, Scope: "inventory:read", Data: events.Of[StockHold](),
			Description: "A stock hold was lifted: the stock is available again."},
	)
}
