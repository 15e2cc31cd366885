package mfg

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// CapacityDay is one calendar day of a work center.
type CapacityDay struct {
	Date           string        `json:"date"`
	Working        bool          `json:"working" doc:"A working day of the calendar and not a holiday."`
	AvailableHours money.Decimal `json:"available_hours" doc:"capacity × hours_per_day on working days, else 0."`
}

// OpenOperation is work an open production order still has on a center.
type OpenOperation struct {
	ProductionOrderID string        `json:"production_order_id"`
	Seq               int           `json:"seq"`
	Status            string        `json:"status"`
	PlannedStart      string        `json:"planned_start"`
	RemainingHours    money.Decimal `json:"remaining_hours" doc:"Planned minutes less the run time reported, in hours (2 places), never below 0."`
}

// WorkCenterCapacity is a work center's capacity over a period against
// the open work routed to it.
type WorkCenterCapacity struct {
	WorkCenterID       string          `json:"work_center_id"`
	From               string          `json:"from"`
	To                 string          `json:"to"`
	Days               []CapacityDay   `json:"days"`
	AvailableHours     money.Decimal   `json:"available_hours"`
	OpenLoadHours      money.Decimal   `json:"open_load_hours" doc:"Remaining hours of operations of planned, released and in-progress orders planned to start by to."`
	UtilizationPercent money.Decimal   `json:"utilization_percent" doc:"open_load_hours ÷ available_hours × 100 (2 places); above 100 the center is overbooked for the period."`
	OpenOperations     []OpenOperation `json:"open_operations"`
}

// maxCapacityDays bounds a capacity query.
const maxCapacityDays = 366

// Capacity reports a work center's available hours per day of [from, to]
// by its calendar, and the open load routed to it. Operations are not
// scheduled onto days: the load is what is still to do on orders planned
// to start by the end of the period.
func Capacity(ctx context.Context, q db.Querier, companyID, workCenterID, from, to string) (WorkCenterCapacity, error) {
	wc, err := loadWorkCenter(ctx, q, companyID, workCenterID)
	if err != nil {
		return WorkCenterCapacity{}, err
	}
	f, err1 := time.Parse(dateLayout, from)
	t, err2 := time.Parse(dateLayout, to)
	switch {
	case err1 != nil || !validDate(from):
		return WorkCenterCapacity{}, apperr.New(apperr.BadRequest, "from must be a date as YYYY-MM-DD.").WithFields(apperr.FieldError{Pointer: "query:from", Detail: "YYYY-MM-DD"})
	case err2 != nil || !validDate(to):
		return WorkCenterCapacity{}, apperr.New(apperr.BadRequest, "to must be a date as YYYY-MM-DD.").WithFields(apperr.FieldError{Pointer: "query:to", Detail: "YYYY-MM-DD"})
	case t.Before(f) || t.Sub(f) >= maxCapacityDays*24*time.Hour:
		return WorkCenterCapacity{}, apperr.New(apperr.BadRequest, "to must be on or after from, at most %d days later.", maxCapacityDays-1).
			WithFields(apperr.FieldError{Pointer: "query:to", Detail: "within a year of from"})
	}
	days := wc.Calendar.WorkingDays
	if len(days) == 0 {
		days = []string{"mon", "tue", "wed", "thu", "fri"}
	}
	hours := wc.Calendar.HoursPerDay
	if hours.IsZero() {
		hours = money.FromInt(8)
	}
	capacity := wc.Capacity
	if capacity.IsZero() {
		capacity = money.FromInt(1)
	}
	out := WorkCenterCapacity{WorkCenterID: wc.ID, From: from, To: to, Days: []CapacityDay{}, OpenOperations: []OpenOperation{}}
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		date := d.Format(dateLayout)
		day := CapacityDay{Date: date, AvailableHours: money.Decimal{}}
		weekday := strings.ToLower(d.Weekday().String()[:3])
		if slices.Contains(days, weekday) && !slices.Contains(wc.Calendar.Holidays, date) {
			day.Working, day.AvailableHours = true, capacity.Mul(hours).Normalize()
		}
		out.AvailableHours = out.AvailableHours.Add(day.AvailableHours)
		out.Days = append(out.Days, day)
	}
	for _, status := range []string{Planned, Released, InProgress} {
		after := ""
		for {
			orders, err := ListOrders(ctx, q, companyID, OrderFilter{Status: status, After: after, Limit: 500})
			if err != nil {
				return WorkCenterCapacity{}, err
			}
			for _, o := range orders {
				if o.PlannedStart > to {
					continue
				}
				for _, op := range o.Operations {
					if op.WorkCenterID != wc.ID || op.Status == "finished" {
						continue
					}
					left := op.PlannedMinutes.Sub(secondsToMinutes(op.RunSeconds))
					if left.Sign() <= 0 {
						continue
					}
					h, _ := left.DivRound(money.FromInt(60), 2, money.HalfEven)
					out.OpenOperations = append(out.OpenOperations, OpenOperation{ProductionOrderID: o.ID, Seq: op.Seq, Status: o.Status,
						PlannedStart: o.PlannedStart, RemainingHours: h})
					out.OpenLoadHours = out.OpenLoadHours.Add(h)
				}
			}
			if len(orders) < 500 {
				break
			}
			after = orders[len(orders)-1].ID
		}
	}
	out.AvailableHours = out.AvailableHours.Normalize()
	if out.AvailableHours.Sign() > 0 {
		out.UtilizationPercent, _ = out.OpenLoadHours.Mul(money.FromInt(100)).DivRound(out.AvailableHours, 2, money.HalfEven)
	}
	return out, nil
}

func secondsToMinutes(s int64) money.Decimal {
	v, _ := money.FromInt(s).DivRound(money.FromInt(60), 6, money.HalfEven)
	return v
}
