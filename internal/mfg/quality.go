package mfg

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/inventory"
	"github.com/mainstay-erp/mainstay/internal/mfg/spc"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Inspection statuses.
const (
	InspectionPassed   = "passed"
	InspectionFailed   = "failed"
	InspectionReleased = "released"
)

// Event types of quality control.
const (
	EventInspectionPassed   = "mainstay.mfg.quality_inspection.passed"
	EventInspectionFailed   = "mainstay.mfg.quality_inspection.failed"
	EventInspectionReleased = "mainstay.mfg.quality_inspection.released"
)

// MeasurementInput is one measured value.
type MeasurementInput struct {
	Characteristic string        `json:"characteristic" doc:"The plan characteristic's code."`
	Value          money.Decimal `json:"value"`
}

// QualityInspectionRequest records an inspection.
type QualityInspectionRequest struct {
	CompanyID         string             `json:"company_id,omitempty"`
	PlanID            string             `json:"plan_id"`
	Lot               string             `json:"lot,omitempty" doc:"The lot inspected; a failed inspection puts its available stock on hold."`
	ProductionOrderID string             `json:"production_order_id,omitempty" doc:"The order the lot came from; needed for from_readings. Its lot is the default lot."`
	Inspector         string             `json:"inspector,omitempty" maxLength:"200"`
	Measurements      []MeasurementInput `json:"measurements,omitempty" maxItems:"1250" doc:"Measurements by people, in sample order per characteristic."`
	FromReadings      bool               `json:"from_readings,omitempty" doc:"Take each characteristic's values from the order's shop-floor readings of the same name (the latest sample_size of them), for characteristics the measurements leave out."`
}

// QualityMeasurement is a recorded value and its verdict.
type QualityMeasurement struct {
	Characteristic string        `json:"characteristic"`
	Sample         int           `json:"sample" doc:"1-based, per characteristic."`
	Value          money.Decimal `json:"value"`
	LowerLimit     money.Decimal `json:"lower_limit"`
	UpperLimit     money.Decimal `json:"upper_limit"`
	Unit           string        `json:"unit,omitempty"`
	Pass           bool          `json:"pass"`
	Source         string        `json:"source" enum:"manual,reading"`
	EventID        string        `json:"event_id,omitempty" doc:"The shop-floor event the reading came from."`
}

// QualityInspection is a quality inspection with its result.
type QualityInspection struct {
	ID                string               `json:"id"`
	CompanyID         string               `json:"company_id"`
	PlanID            string               `json:"plan_id"`
	ProductID         string               `json:"product_id"`
	Lot               string               `json:"lot,omitempty"`
	ProductionOrderID string               `json:"production_order_id,omitempty"`
	Inspector         string               `json:"inspector,omitempty"`
	Status            string               `json:"status" enum:"passed,failed,released" doc:"failed is an open non-conformance: the lot is on hold until released."`
	Measurements      []QualityMeasurement `json:"measurements"`
	Failures          int                  `json:"failures"`
	HoldIDs           []string             `json:"hold_ids" doc:"Stock holds a failure placed (one per location holding the lot)."`
	HeldQuantity      money.Decimal        `json:"held_quantity"`
	Disposition       string               `json:"disposition,omitempty" doc:"Why the non-conformance was released."`
	ReleasedAt        *time.Time           `json:"released_at,omitempty"`
	Version           int64                `json:"version"`
	CreatedAt         time.Time            `json:"created_at"`
	UpdatedAt         time.Time            `json:"updated_at"`
}

// Inspect records measurements against a plan and decides pass or fail:
// every characteristic needs sample_size values, and every value must lie
// within its specification limits. A failure with a lot is a
// non-conformance: all available stock of the lot is put on hold (not
// available to sell, reserve or consume) until the inspection is released.
func (s *Service) Inspect(ctx context.Context, tx *db.Tx, companyID string, in QualityInspectionRequest) (QualityInspection, error) {
	plan, err := loadPlan(ctx, tx, companyID, in.PlanID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return QualityInspection{}, apperr.Field("/plan_id", "No inspection plan %q in this company.", in.PlanID)
	} else if err != nil {
		return QualityInspection{}, err
	}
	if !plan.Active {
		return QualityInspection{}, apperr.Field("/plan_id", "Inspection plan %s is archived.", plan.ID)
	}
	var order *ProductionOrder
	if in.ProductionOrderID != "" {
		o, err := loadOrder(ctx, tx, companyID, in.ProductionOrderID, false)
		if apperr.CodeOf(err) == apperr.NotFound {
			return QualityInspection{}, apperr.Field("/production_order_id", "No production order %q in this company.", in.ProductionOrderID)
		} else if err != nil {
			return QualityInspection{}, err
		}
		order = &o
		if in.Lot == "" {
			in.Lot = o.Lot
		}
	}
	if in.FromReadings && order == nil {
		return QualityInspection{}, apperr.Field("/production_order_id", "from_readings takes the readings of a production order; name it.")
	}
	info, err := inventory.Product(ctx, tx, companyID, plan.ProductID, "/plan_id")
	if err != nil {
		return QualityInspection{}, err
	}
	if in.Lot != "" && info.Tracking != inventory.TrackLot {
		return QualityInspection{}, apperr.Field("/lot", "%s is not tracked by lot.", plan.ProductID)
	}
	chars := map[string]InspectionCharacteristic{}
	for _, c := range plan.Characteristics {
		chars[c.Code] = c
	}
	var fields []apperr.FieldError
	var ms []QualityMeasurement
	count := map[string]int{}
	for i, m := range in.Measurements {
		c, ok := chars[m.Characteristic]
		if !ok {
			fields = append(fields, apperr.FieldError{Pointer: fmt.Sprintf("/measurements/%d/characteristic", i), Detail: "not a characteristic of plan " + plan.Code})
			continue
		}
		if _, err := m.Value.Scaled(money.QuantityScale); err != nil {
			fields = append(fields, apperr.FieldError{Pointer: fmt.Sprintf("/measurements/%d/value", i), Detail: "at most 6 decimal places"})
			continue
		}
		count[c.Code]++
		ms = append(ms, measure(c, count[c.Code], m.Value, "manual", ""))
	}
	if len(fields) > 0 {
		return QualityInspection{}, apperr.Fields(fields...)
	}
	for _, c := range plan.Characteristics {
		if in.FromReadings && count[c.Code] == 0 {
			all, err := Readings(ctx, tx, order.ID, c.Code)
			if err != nil {
				return QualityInspection{}, err
			}
			// A plan for a routing step reads that step's machines only.
			var rs []ReadingValue
			for _, r := range all {
				if plan.Operation == 0 || r.Operation == plan.Operation {
					rs = append(rs, r)
				}
			}
			if len(rs) > plan.SampleSize {
				rs = rs[len(rs)-plan.SampleSize:]
			}
			for _, r := range rs {
				count[c.Code]++
				ms = append(ms, measure(c, count[c.Code], r.Value, "reading", r.EventID))
			}
		}
		if count[c.Code] != plan.SampleSize {
			fields = append(fields, apperr.FieldError{Pointer: "/measurements",
				Detail: fmt.Sprintf("plan %s takes %d value(s) of %s per inspection, %d given", plan.Code, plan.SampleSize, c.Code, count[c.Code])})
		}
	}
	if len(fields) > 0 {
		return QualityInspection{}, apperr.Fields(fields...)
	}
	now := tx.Now()
	insp := QualityInspection{ID: id.New("qi"), CompanyID: companyID, PlanID: plan.ID, ProductID: plan.ProductID, Lot: in.Lot,
		ProductionOrderID: in.ProductionOrderID, Inspector: in.Inspector, Status: InspectionPassed, Measurements: ms,
		HoldIDs: []string{}, Version: 1, CreatedAt: now, UpdatedAt: now}
	var failed []string
	for _, m := range ms {
		if !m.Pass {
			insp.Failures++
			failed = append(failed, fmt.Sprintf("%s #%d = %s outside [%s, %s]", m.Characteristic, m.Sample, m.Value, m.LowerLimit, m.UpperLimit))
		}
	}
	event := EventInspectionPassed
	if insp.Failures > 0 {
		insp.Status, event = InspectionFailed, EventInspectionFailed
		if in.Lot != "" {
			levels, err := inventory.LotLevels(ctx, tx, companyID, plan.ProductID, in.Lot)
			if err != nil {
				return QualityInspection{}, err
			}
			reason := fmt.Sprintf("Quality inspection %s failed: %s", insp.ID, strings.Join(failed, "; "))
			for _, l := range levels {
				if l.Available.Sign() <= 0 {
					continue
				}
				h, err := inventory.PlaceHold(ctx, tx, companyID, plan.ProductID, l.LocationID, in.Lot, l.Available, reason)
				if err != nil {
					return QualityInspection{}, err
				}
				insp.HoldIDs = append(insp.HoldIDs, h.ID)
				insp.HeldQuantity = insp.HeldQuantity.Add(h.Quantity)
			}
		}
	}
	insp.HeldQuantity = insp.HeldQuantity.Normalize()
	if err := saveInspection(ctx, tx, &insp, true); err != nil {
		return QualityInspection{}, err
	}
	for _, m := range ms {
		v := m.Value
		if _, err := tx.ExecContext(ctx, `INSERT INTO quality_measurements (company_id, inspection_id, plan_id, characteristic, sample_no, value, measured_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, companyID, insp.ID, plan.ID, m.Characteristic, m.Sample, money.Quantity(&v), now); err != nil {
			return QualityInspection{}, fmt.Errorf("store measurement of %s: %w", insp.ID, err)
		}
	}
	return insp, recordInspection(ctx, tx, &insp, "quality_inspection."+insp.Status, event)
}

func measure(c InspectionCharacteristic, sample int, v money.Decimal, source, eventID string) QualityMeasurement {
	lsl, usl := c.Limits()
	return QualityMeasurement{Characteristic: c.Code, Sample: sample, Value: v.Normalize(), LowerLimit: lsl.Normalize(), UpperLimit: usl.Normalize(), Unit: c.Unit,
		Pass: v.Cmp(lsl) >= 0 && v.Cmp(usl) <= 0, Source: source, EventID: eventID}
}

// ReleaseInspectionRequest releases a non-conformance.
type ReleaseInspectionRequest struct {
	CompanyID   string `json:"company_id,omitempty"`
	Disposition string `json:"disposition" minLength:"1" maxLength:"500" doc:"Why the lot may be used (use as is, reworked, concession …); kept on the inspection and in the audit log."`
}

// ReleaseInspection lifts the holds a failed inspection placed, once.
func (s *Service) ReleaseInspection(ctx context.Context, tx *db.Tx, companyID, inspectionID string, in ReleaseInspectionRequest) (QualityInspection, error) {
	insp, err := loadInspection(ctx, tx, companyID, inspectionID, true)
	if err != nil {
		return QualityInspection{}, err
	}
	if insp.Status != InspectionFailed {
		return QualityInspection{}, apperr.New(apperr.Conflict, "Quality inspection %s is %s; only a failed inspection is released.", insp.ID, insp.Status)
	}
	if strings.TrimSpace(in.Disposition) == "" {
		return QualityInspection{}, apperr.Field("/disposition", "say why the lot may be used")
	}
	for _, h := range insp.HoldIDs {
		// A hold someone already lifted through /v1/stock-holds (audited
		// there) is 409 from LiftHold, and nothing is left to lift.
		if _, err := inventory.LiftHold(ctx, tx, companyID, h); err != nil && apperr.CodeOf(err) != apperr.Conflict {
			return QualityInspection{}, err
		}
	}
	now := tx.Now()
	insp.Status, insp.Disposition, insp.ReleasedAt = InspectionReleased, in.Disposition, &now
	if err := saveInspection(ctx, tx, &insp, false); err != nil {
		return QualityInspection{}, err
	}
	return insp, recordInspection(ctx, tx, &insp, "quality_inspection.release", EventInspectionReleased)
}

func recordInspection(ctx context.Context, tx *db.Tx, insp *QualityInspection, action, event string) error {
	if _, err := events.Record(ctx, tx, events.Event{Type: event, Subject: insp.ID, CompanyID: insp.CompanyID, Data: insp}); err != nil {
		return fmt.Errorf("quality inspection %s: %w", insp.ID, err)
	}
	details := map[string]any{"status": insp.Status, "lot": insp.Lot, "failures": insp.Failures, "holds": insp.HoldIDs}
	if insp.Disposition != "" {
		details["disposition"] = insp.Disposition
	}
	return audit.Record(ctx, tx, audit.Entry{Action: action, ResourceType: "quality_inspection", ResourceID: insp.ID, CompanyID: insp.CompanyID, Details: details})
}

func saveInspection(ctx context.Context, tx *db.Tx, insp *QualityInspection, create bool) error {
	if !create {
		insp.Version++
		insp.UpdatedAt = tx.Now()
	}
	doc, err := json.Marshal(insp)
	if err != nil {
		return fmt.Errorf("encode inspection: %w", err)
	}
	if create {
		_, err = tx.ExecContext(ctx, `INSERT INTO quality_inspections (id, company_id, version, plan_id, product_id, lot, production_order_id, status, doc, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`, insp.ID, insp.CompanyID, insp.Version, insp.PlanID, insp.ProductID, insp.Lot,
			insp.ProductionOrderID, insp.Status, string(doc), insp.CreatedAt)
	} else {
		var res sql.Result
		res, err = tx.ExecContext(ctx, "UPDATE quality_inspections SET version = $1, status = $2, doc = $3, updated_at = $4 WHERE id = $5 AND version = $6",
			insp.Version, insp.Status, string(doc), insp.UpdatedAt, insp.ID, insp.Version-1)
		if err == nil {
			if n, _ := res.RowsAffected(); n != 1 {
				return apperr.New(apperr.Conflict, "Quality inspection %s changed while this request ran.", insp.ID)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("save inspection %s: %w", insp.ID, err)
	}
	return nil
}

func loadInspection(ctx context.Context, q db.Querier, companyID, id string, lock bool) (QualityInspection, error) {
	suffix := ""
	if tx, ok := q.(*db.Tx); ok && lock && tx.Engine() == db.Postgres {
		suffix = " FOR UPDATE"
	}
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM quality_inspections WHERE id = $1 AND company_id = $2"+suffix, id, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return QualityInspection{}, apperr.New(apperr.NotFound, "No quality inspection %q.", id)
	}
	if err != nil {
		return QualityInspection{}, fmt.Errorf("read inspection %s: %w", id, err)
	}
	var insp QualityInspection
	return insp, json.Unmarshal([]byte(doc), &insp)
}

// GetInspection returns an inspection of the company.
func GetInspection(ctx context.Context, q db.Querier, companyID, id string) (QualityInspection, error) {
	return loadInspection(ctx, q, companyID, id, false)
}

// InspectionFilter selects inspections.
type InspectionFilter struct {
	PlanID, ProductID, Lot, Status string
	After                          string
	Limit                          int
}

// ListInspections returns inspections, oldest first.
func ListInspections(ctx context.Context, q db.Querier, companyID string, f InspectionFilter) ([]QualityInspection, error) {
	where, args := []string{"company_id = $1"}, []any{companyID}
	for _, c := range []struct{ col, v string }{{"plan_id", f.PlanID}, {"product_id", f.ProductID}, {"lot", f.Lot}, {"status", f.Status}} {
		if c.v != "" {
			args = append(args, c.v)
			where = append(where, fmt.Sprintf("%s = $%d", c.col, len(args)))
		}
	}
	if f.After != "" {
		args = append(args, f.After)
		where = append(where, fmt.Sprintf("id > $%d", len(args)))
	}
	args = append(args, f.Limit)
	rows, err := q.QueryContext(ctx, "SELECT doc FROM quality_inspections WHERE "+strings.Join(where, " AND ")+fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args)), args...)
	out, err := collectDocs[QualityInspection](rows, err, "list quality inspections")
	if out == nil && err == nil {
		out = []QualityInspection{}
	}
	return out, err
}

// SPCPoint is one subgroup (inspection) on the charts.
type SPCPoint struct {
	InspectionID string   `json:"inspection_id"`
	Mean         string   `json:"mean"`
	Range        string   `json:"range"`
	OutOfLimits  bool     `json:"out_of_limits" doc:"Mean outside the X-bar limits or range outside the R limits."`
	Rules        []string `json:"rules" doc:"Run rules this point completes: beyond_3_sigma, 2_of_3_beyond_2_sigma, 4_of_5_beyond_1_sigma, 8_on_one_side."`
}

// SPCLimits are a chart's centre line and limits.
type SPCLimits struct {
	Center string `json:"center"`
	UCL    string `json:"ucl"`
	LCL    string `json:"lcl"`
}

// SPCReport is statistical process control of one characteristic.
type SPCReport struct {
	PlanID         string     `json:"plan_id"`
	Characteristic string     `json:"characteristic"`
	Unit           string     `json:"unit,omitempty"`
	LowerSpec      string     `json:"lower_spec_limit"`
	UpperSpec      string     `json:"upper_spec_limit"`
	SubgroupSize   int        `json:"subgroup_size"`
	Subgroups      int        `json:"subgroups"`
	Skipped        int        `json:"skipped" doc:"Inspections left out because their number of values differs from subgroup_size."`
	Mean           string     `json:"mean" doc:"Grand mean x̿."`
	StdDev         string     `json:"std_dev" doc:"Sample standard deviation of all values."`
	SigmaWithin    string     `json:"sigma_within" doc:"R̄ / d2, the σ the limits and capability use."`
	RBar           string     `json:"r_bar"`
	XBar           SPCLimits  `json:"xbar" doc:"x̿ ± A2·R̄."`
	R              SPCLimits  `json:"r" doc:"D3·R̄ and D4·R̄ around R̄."`
	Cp             string     `json:"cp" doc:"(USL − LSL) / 6σ."`
	Cpk            string     `json:"cpk" doc:"min(USL − x̿, x̿ − LSL) / 3σ."`
	OutOfControl   int        `json:"out_of_control" doc:"Points outside the limits or completing a run rule."`
	Points         []SPCPoint `json:"points"`
}

func f6(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return money.MustParse(fmt.Sprintf("%.6f", v)).Normalize().String()
}

// SPC analyses a characteristic over the plan's inspections (each one
// subgroup, oldest first, the last `last` of them when last > 0).
func SPC(ctx context.Context, q db.Querier, companyID, planID, code string, last int) (SPCReport, error) {
	plan, err := loadPlan(ctx, q, companyID, planID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return SPCReport{}, apperr.Field("query:plan_id", "No inspection plan %q in this company.", planID)
	} else if err != nil {
		return SPCReport{}, err
	}
	var ch *InspectionCharacteristic
	for i := range plan.Characteristics {
		if plan.Characteristics[i].Code == code {
			ch = &plan.Characteristics[i]
		}
	}
	if ch == nil {
		return SPCReport{}, apperr.Field("query:characteristic", "Plan %s has no characteristic %q.", plan.Code, code)
	}
	rows, err := q.QueryContext(ctx, `SELECT inspection_id, value FROM quality_measurements WHERE company_id = $1 AND plan_id = $2 AND characteristic = $3
ORDER BY inspection_id, sample_no`, companyID, planID, code)
	if err != nil {
		return SPCReport{}, fmt.Errorf("measurements of %s: %w", code, err)
	}
	type mv struct {
		insp string
		v    money.Decimal
	}
	vals, err := db.Collect(rows, func(rows *sql.Rows) (mv, error) {
		var m mv
		return m, rows.Scan(&m.insp, money.Quantity(&m.v))
	})
	if err != nil {
		return SPCReport{}, fmt.Errorf("measurements of %s: %w", code, err)
	}
	var ids []string
	groups := map[string][]float64{}
	for _, m := range vals {
		if _, ok := groups[m.insp]; !ok {
			ids = append(ids, m.insp)
		}
		f, _ := m.v.Decimal().Float64()
		groups[m.insp] = append(groups[m.insp], f)
	}
	lsl, usl := ch.Limits()
	rep := SPCReport{PlanID: plan.ID, Characteristic: code, Unit: ch.Unit, LowerSpec: lsl.Normalize().String(), UpperSpec: usl.Normalize().String(),
		SubgroupSize: plan.SampleSize, Points: []SPCPoint{}}
	var sub [][]float64
	var used []string
	for _, id := range ids {
		if len(groups[id]) != plan.SampleSize {
			rep.Skipped++
			continue
		}
		sub = append(sub, groups[id])
		used = append(used, id)
	}
	if last > 0 && len(sub) > last {
		sub, used = sub[len(sub)-last:], used[len(used)-last:]
	}
	rep.Subgroups = len(sub)
	lf, _ := lsl.Decimal().Float64()
	uf, _ := usl.Decimal().Float64()
	r, err := spc.Analyze(sub, lf, uf, true)
	if err != nil {
		return SPCReport{}, apperr.New(apperr.Conflict, "Statistical process control of %s needs at least two inspections of %d values each (sample sizes 2–25); there are %d.",
			code, plan.SampleSize, len(sub))
	}
	rep.Mean, rep.StdDev, rep.SigmaWithin, rep.RBar = f6(r.GrandMean), f6(r.StdDev), f6(r.SigmaWithin), f6(r.RBar)
	rep.XBar = SPCLimits{Center: f6(r.XBar.Center), UCL: f6(r.XBar.UCL), LCL: f6(r.XBar.LCL)}
	rep.R = SPCLimits{Center: f6(r.R.Center), UCL: f6(r.R.UCL), LCL: f6(r.R.LCL)}
	rep.Cp, rep.Cpk, rep.OutOfControl = f6(r.Cp), f6(r.Cpk), r.OutOfControl
	for i, p := range r.Points {
		rules := p.Rules
		if rules == nil {
			rules = []string{}
		}
		rep.Points = append(rep.Points, SPCPoint{InspectionID: used[i], Mean: f6(p.Mean), Range: f6(p.Range), OutOfLimits: p.OutX || p.OutR, Rules: rules})
	}
	return rep, nil
}
