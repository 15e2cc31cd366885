package mfg

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// The events this module records besides the resources' own, for the
// catalogue and the delivery filters.
func init() {
	order := events.Of[ProductionOrder]()
	events.Declare(
		events.Type{Name: EventOrderCreated, Scope: "mfg:read", Data: order, Description: "A production order was planned."},
		events.Type{Name: EventOrderReleased, Scope: "mfg:read", Data: order,
			Description: "A production order was released: its components are reserved (what was available)."},
		events.Type{Name: EventShortage, Scope: "mfg:read", Data: events.Of[ComponentShortageReport](),
			Description: "Releasing a production order could not reserve every component: the shortages, per component."},
		events.Type{Name: EventOrderStarted, Scope: "mfg:read", Data: order, Description: "Work on a production order started."},
		events.Type{Name: EventOrderProgressed, Scope: "mfg:read", Data: events.Of[OperationProgress](),
			Description: "Shop-floor events changed an operation of a production order (one event per operation per intake call)."},
		events.Type{Name: EventOrderCompleted, Scope: "mfg:read", Data: order,
			Description: "A production order was completed: components consumed, output received."},
		events.Type{Name: EventOrderClosed, Scope: "mfg:read", Data: order,
			Description: "A production order was closed: its variances were posted and its work in progress is zero."},
		events.Type{Name: EventOrderCancelled, Scope: "mfg:read", Data: order, Description: "A production order was cancelled."},
		events.Type{Name: EventInspectionPassed, Scope: "mfg:read", Data: events.Of[QualityInspection](), Description: "A quality inspection passed."},
		events.Type{Name: EventInspectionFailed, Scope: "mfg:read", Data: events.Of[QualityInspection](),
			Description: "A quality inspection failed: a non-conformance; the lot's available stock is on hold."},
		events.Type{Name: EventInspectionReleased, Scope: "mfg:read", Data: events.Of[QualityInspection](),
			Description: "A failed inspection was released with a disposition; its holds were lifted."},
	)
}
