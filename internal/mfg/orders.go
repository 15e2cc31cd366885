package mfg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/inventory"
	"github.com/mainstay-erp/mainstay/internal/inventory/sites"
	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// SourceType names production orders on stock moves, reservations and
// ledger entries.
const SourceType = "production_order"

// Production order statuses.
const (
	Planned    = "planned"
	Released   = "released"
	InProgress = "in_progress"
	Completed  = "completed"
	Closed     = "closed"
	Cancelled  = "cancelled"
)

// ProductionOrderComponent is what an order needs of one component.
type ProductionOrderComponent struct {
	Line          int           `json:"line"`
	ProductID     string        `json:"product_id"`
	Required      money.Decimal `json:"required" doc:"Stock units for the order quantity, scrap included."`
	Reserved      money.Decimal `json:"reserved" doc:"Reserved at release (what was available)."`
	Shortage      money.Decimal `json:"shortage" doc:"What could not be reserved at release."`
	Consumed      money.Decimal `json:"consumed"`
	ConsumedValue money.Decimal `json:"consumed_value"`
}

// ProductionOrderByProduct is a by-product the order yields.
type ProductionOrderByProduct struct {
	ProductID string        `json:"product_id"`
	Quantity  money.Decimal `json:"quantity" doc:"For the order quantity; at completion, in proportion to what was made (good + scrap)."`
	UnitCost  money.Decimal `json:"unit_cost" doc:"Standard, taken when the order was planned."`
}

// ProductionOrderOperation is one routing step of an order with its progress.
type ProductionOrderOperation struct {
	Seq             int                      `json:"seq"`
	Name            string                   `json:"name"`
	WorkCenterID    string                   `json:"work_center_id"`
	HourlyRate      money.Decimal            `json:"hourly_rate"`
	PlannedMinutes  money.Decimal            `json:"planned_minutes"`
	PlannedCost     money.Decimal            `json:"planned_cost"`
	Status          string                   `json:"status" enum:"pending,running,paused,finished"`
	GoodQuantity    money.Decimal            `json:"good_quantity"`
	ScrapQuantity   money.Decimal            `json:"scrap_quantity"`
	ScrapReasons    map[string]money.Decimal `json:"scrap_reasons,omitempty"`
	RunSeconds      int64                    `json:"run_seconds" doc:"Running time so far: start/resume to pause/finish, by event timestamps."`
	DowntimeSeconds int64                    `json:"downtime_seconds"`
	DowntimeReasons map[string]int64         `json:"downtime_reasons,omitempty"`
	ActualCost      money.Decimal            `json:"actual_cost" doc:"run time × hourly rate; the planned cost while no time was reported."`
	Events          int                      `json:"events"`
	Readings        int                      `json:"readings"`
	StartedAt       *time.Time               `json:"started_at,omitempty"`
	FinishedAt      *time.Time               `json:"finished_at,omitempty"`
	RunningSince    *time.Time               `json:"running_since,omitempty"`
	LastEventAt     *time.Time               `json:"last_event_at,omitempty" doc:"occurred_at of the latest event folded in."`
	LastEventID     string                   `json:"last_event_id,omitempty"`
}

// ProductionMove is a stock move an order made.
type ProductionMove struct {
	MoveID     string        `json:"stock_move_id"`
	ProductID  string        `json:"product_id"`
	LocationID string        `json:"location_id"`
	Lot        string        `json:"lot,omitempty"`
	Quantity   money.Decimal `json:"quantity"`
	Value      money.Decimal `json:"value"`
	ByProduct  bool          `json:"by_product,omitempty"`
}

// ProductionPosting is a ledger entry an order posted.
type ProductionPosting struct {
	Purpose        string        `json:"purpose"`
	JournalEntryID string        `json:"journal_entry_id"`
	Amount         money.Decimal `json:"amount"`
}

// ProductionVariances are what closing an order posted besides standard.
type ProductionVariances struct {
	Material money.Decimal `json:"material" doc:"Materials consumed (less by-products) − standard materials for good + scrapped output. Positive is unfavourable."`
	Labour   money.Decimal `json:"labour" doc:"Labour charged − standard labour for good + scrapped output."`
	Scrap    money.Decimal `json:"scrap" doc:"Standard cost of the scrapped output."`
}

// ProductionStandardCost is an order's cost roll-up when it was planned.
type ProductionStandardCost struct {
	Material        money.Decimal `json:"material"`
	Labour          money.Decimal `json:"labour"`
	ByProductCredit money.Decimal `json:"by_product_credit"`
	Total           money.Decimal `json:"total"`
	UnitCost        money.Decimal `json:"unit_cost" doc:"What a finished unit is received at."`
}

// ProductionActualCost is what an order has cost so far.
type ProductionActualCost struct {
	Material  money.Decimal `json:"material" doc:"Components consumed, at their stock value."`
	Labour    money.Decimal `json:"labour" doc:"Σ operations' actual cost."`
	Output    money.Decimal `json:"output" doc:"Finished goods received, at standard."`
	ByProduct money.Decimal `json:"by_product"`
	WIP       money.Decimal `json:"work_in_progress" doc:"Posted to work in progress and not yet out of it: consumed + labour posted − output − by-products − variances."`
}

// ProductionOrder makes a quantity of a product by a bill of materials.
type ProductionOrder struct {
	ID              string                     `json:"id"`
	CompanyID       string                     `json:"company_id"`
	ExternalID      string                     `json:"external_id,omitempty"`
	Status          string                     `json:"status" enum:"planned,released,in_progress,completed,closed,cancelled"`
	ProductID       string                     `json:"product_id"`
	BOMID           string                     `json:"bom_id"`
	Revision        string                     `json:"revision"`
	Quantity        money.Decimal              `json:"quantity" doc:"Stock units to make."`
	WarehouseID     string                     `json:"warehouse_id" doc:"Components are taken from and goods put into this warehouse."`
	LocationID      string                     `json:"location_id" doc:"Where finished goods and by-products go."`
	Lot             string                     `json:"lot,omitempty" doc:"The finished lot (lot-tracked products)."`
	PlannedStart    string                     `json:"planned_start"`
	DueDate         string                     `json:"due_date,omitempty"`
	Currency        money.Currency             `json:"currency"`
	Components      []ProductionOrderComponent `json:"components"`
	ByProducts      []ProductionOrderByProduct `json:"by_products"`
	Operations      []ProductionOrderOperation `json:"operations"`
	Standard        ProductionStandardCost     `json:"standard"`
	Actual          ProductionActualCost       `json:"actual"`
	GoodQuantity    money.Decimal              `json:"good_quantity" doc:"Good output: the last operation's good quantity, or what completion reported."`
	ScrapQuantity   money.Decimal              `json:"scrap_quantity"`
	ProgressPercent money.Decimal              `json:"progress_percent" doc:"good_quantity ÷ quantity × 100, to 2 places."`
	LabourPosted    money.Decimal              `json:"labour_posted"`
	Variances       *ProductionVariances       `json:"variances,omitempty"`
	Consumption     []ProductionMove           `json:"consumption"`
	Output          []ProductionMove           `json:"output"`
	Postings        []ProductionPosting        `json:"postings"`
	Version         int64                      `json:"version"`
	ReleasedAt      *time.Time                 `json:"released_at,omitempty"`
	StartedAt       *time.Time                 `json:"started_at,omitempty"`
	CompletedAt     *time.Time                 `json:"completed_at,omitempty"`
	ClosedAt        *time.Time                 `json:"closed_at,omitempty"`
	CreatedAt       time.Time                  `json:"created_at"`
	UpdatedAt       time.Time                  `json:"updated_at"`
}

// ComponentShortage is a component a release could not reserve in full.
type ComponentShortage struct {
	ProductID string        `json:"product_id"`
	Required  money.Decimal `json:"required"`
	Reserved  money.Decimal `json:"reserved"`
	Shortage  money.Decimal `json:"shortage"`
}

// ComponentShortageReport is the payload of the shortage event.
type ComponentShortageReport struct {
	ProductionOrderID string              `json:"production_order_id"`
	ProductID         string              `json:"product_id"`
	WarehouseID       string              `json:"warehouse_id"`
	Shortages         []ComponentShortage `json:"shortages"`
}

// Event types.
const (
	EventOrderCreated    = "mainstay.mfg.production_order.created"
	EventOrderReleased   = "mainstay.mfg.production_order.released"
	EventShortage        = "mainstay.mfg.production_order.shortage_detected"
	EventOrderStarted    = "mainstay.mfg.production_order.started"
	EventOrderProgressed = "mainstay.mfg.production_order.progressed"
	EventOrderCompleted  = "mainstay.mfg.production_order.completed"
	EventOrderClosed     = "mainstay.mfg.production_order.closed"
	EventOrderCancelled  = "mainstay.mfg.production_order.cancelled"
)

// AccountSource returns the id of the company's account with code,
// creating it (name, type) in the chart the first time, inside tx.
type AccountSource func(ctx context.Context, tx *db.Tx, companyID, code, name, typ string) (string, error)

// The accounts manufacturing posts to, by code in the company's chart.
// They are created on first use, so companies that do not manufacture
// keep the standard chart as it is.
var (
	AccountWIP            = AccountSpec{"1250", "Work in progress", "asset"}
	AccountMaterialVar    = AccountSpec{"5210", "Material usage variance", "expense"}
	AccountLabourVar      = AccountSpec{"5220", "Labour variance", "expense"}
	AccountScrap          = AccountSpec{"5230", "Production scrap", "expense"}
	AccountLabourAbsorbed = AccountSpec{"5250", "Production labour absorbed", "expense"}
)

// AccountSpec names an account manufacturing posts to.
type AccountSpec struct{ Code, Name, Type string }

// Service runs production orders, shop-floor intake and quality control.
type Service struct {
	account AccountSource
}

// New returns the service; accounts resolves (and creates) the
// manufacturing accounts.
func New(accounts AccountSource) *Service { return &Service{account: accounts} }

func (s *Service) acct(ctx context.Context, tx *db.Tx, companyID string, a AccountSpec) (string, error) {
	return s.account(ctx, tx, companyID, a.Code, a.Name, a.Type)
}

// CreateProductionOrderRequest plans a production order.
type CreateProductionOrderRequest struct {
	CompanyID    string        `json:"company_id,omitempty"`
	ExternalID   string        `json:"external_id,omitempty" maxLength:"100" doc:"Your order id; unique per company."`
	ProductID    string        `json:"product_id"`
	BOMID        string        `json:"bom_id,omitempty" doc:"Default: the product's active bill valid on planned_start."`
	Quantity     money.Decimal `json:"quantity" doc:"Stock units to make."`
	WarehouseID  string        `json:"warehouse_id,omitempty" doc:"Default: the company's first active warehouse by code."`
	LocationID   string        `json:"location_id,omitempty" doc:"Where the output goes; default the warehouse's receiving location."`
	Lot          string        `json:"lot,omitempty" maxLength:"100" doc:"Finished lot; default the order id for lot-tracked products."`
	PlannedStart string        `json:"planned_start,omitempty" doc:"YYYY-MM-DD; default today in the company's time zone."`
	DueDate      string        `json:"due_date,omitempty"`
}

func today(ctx context.Context, q db.Querier, companyID string, now time.Time) (string, error) {
	return sites.Today(ctx, q, companyID, now)
}

// CreateOrder plans an order: the bill's components for the quantity,
// its routing, and the standard cost rolled up now.
func (s *Service) CreateOrder(ctx context.Context, tx *db.Tx, in CreateProductionOrderRequest) (ProductionOrder, error) {
	var fields []apperr.FieldError
	if fe := checkQuantity("/quantity", in.Quantity, false); fe != nil {
		fields = append(fields, *fe)
	}
	if in.PlannedStart == "" {
		d, err := today(ctx, tx, in.CompanyID, tx.Now())
		if err != nil {
			return ProductionOrder{}, err
		}
		in.PlannedStart = d
	} else if !validDate(in.PlannedStart) {
		fields = append(fields, apperr.FieldError{Pointer: "/planned_start", Detail: "must be a date as YYYY-MM-DD"})
	}
	if in.DueDate != "" && (!validDate(in.DueDate) || in.DueDate < in.PlannedStart) {
		fields = append(fields, apperr.FieldError{Pointer: "/due_date", Detail: "must be a date as YYYY-MM-DD, not before planned_start"})
	}
	if len(fields) > 0 {
		return ProductionOrder{}, apperr.Fields(fields...)
	}
	info, err := inventory.Product(ctx, tx, in.CompanyID, in.ProductID, "/product_id")
	if err != nil {
		return ProductionOrder{}, err
	}
	var b BOM
	if in.BOMID != "" {
		if b, err = LoadBOM(ctx, tx, in.CompanyID, in.BOMID); err != nil {
			if apperr.CodeOf(err) == apperr.NotFound {
				return ProductionOrder{}, apperr.Field("/bom_id", "No bill of materials %q in this company.", in.BOMID)
			}
			return ProductionOrder{}, err
		}
		if b.ProductID != in.ProductID {
			return ProductionOrder{}, apperr.Field("/bom_id", "Bill %s makes %s, not %s.", b.ID, b.ProductID, in.ProductID)
		}
	} else {
		var ok bool
		if b, ok, err = ActiveBOM(ctx, tx, in.CompanyID, in.ProductID, in.PlannedStart); err != nil {
			return ProductionOrder{}, err
		} else if !ok {
			return ProductionOrder{}, apperr.Field("/product_id", "%s has no active bill of materials valid on %s.", in.ProductID, in.PlannedStart)
		}
	}
	if in.WarehouseID == "" {
		err := tx.QueryRowContext(ctx, "SELECT id FROM warehouses WHERE company_id = $1 AND active ORDER BY code LIMIT 1", in.CompanyID).Scan(&in.WarehouseID)
		if errors.Is(err, sql.ErrNoRows) {
			return ProductionOrder{}, apperr.Field("/warehouse_id", "The company has no active warehouse.")
		} else if err != nil {
			return ProductionOrder{}, fmt.Errorf("default warehouse: %w", err)
		}
	}
	if in.LocationID == "" {
		if in.LocationID, err = sites.DefaultLocation(ctx, tx, in.CompanyID, in.WarehouseID, sites.Receiving); err != nil {
			return ProductionOrder{}, apperr.Field("/warehouse_id", "No warehouse %q with a receiving location in this company.", in.WarehouseID)
		}
	} else if li, err := sites.LocationInfo(ctx, tx, in.CompanyID, in.LocationID); err != nil {
		return ProductionOrder{}, apperr.Field("/location_id", "No location %q in this company.", in.LocationID)
	} else if li.WarehouseID != in.WarehouseID {
		return ProductionOrder{}, apperr.Field("/location_id", "Location %s is not in warehouse %s.", in.LocationID, in.WarehouseID)
	}
	o := ProductionOrder{ID: id.New("mo"), CompanyID: in.CompanyID, ExternalID: in.ExternalID, Status: Planned, ProductID: in.ProductID,
		BOMID: b.ID, Revision: b.Revision, Quantity: in.Quantity.Normalize(), WarehouseID: in.WarehouseID, LocationID: in.LocationID,
		Lot: in.Lot, PlannedStart: in.PlannedStart, DueDate: in.DueDate, Version: 1, CreatedAt: tx.Now(), UpdatedAt: tx.Now(),
		Components: []ProductionOrderComponent{}, ByProducts: []ProductionOrderByProduct{}, Operations: []ProductionOrderOperation{},
		Consumption: []ProductionMove{}, Output: []ProductionMove{}, Postings: []ProductionPosting{}}
	if info.Tracking == inventory.TrackSerial {
		return ProductionOrder{}, apperr.Field("/product_id", "Serial-numbered products are not made by production orders yet; track them by lot.")
	}
	if info.Tracking == inventory.TrackLot && o.Lot == "" {
		o.Lot = strings.ToUpper(o.ID)
	}
	if info.Tracking != inventory.TrackLot && o.Lot != "" {
		return ProductionOrder{}, apperr.Field("/lot", "%s is not tracked by lot.", in.ProductID)
	}
	if o.Currency, err = companyCurrency(ctx, tx, in.CompanyID); err != nil {
		return ProductionOrder{}, err
	}
	for i, c := range b.Components {
		req, err := requirement(ctx, tx, in.CompanyID, b, c.ProductID, c.UnitID, c.Quantity, c.ScrapPercent, o.Quantity, fmt.Sprintf("/components/%d", i))
		if err != nil {
			return ProductionOrder{}, err
		}
		o.Components = append(o.Components, ProductionOrderComponent{Line: i, ProductID: c.ProductID, Required: req})
	}
	for i, bp := range b.ByProducts {
		q, err := requirement(ctx, tx, in.CompanyID, b, bp.ProductID, bp.UnitID, bp.Quantity, money.Decimal{}, o.Quantity, fmt.Sprintf("/by_products/%d", i))
		if err != nil {
			return ProductionOrder{}, err
		}
		uc, _, err := inventory.UnitCost(ctx, tx, in.CompanyID, bp.ProductID)
		if err != nil {
			return ProductionOrder{}, err
		}
		o.ByProducts = append(o.ByProducts, ProductionOrderByProduct{ProductID: bp.ProductID, Quantity: q, UnitCost: uc})
	}
	for _, op := range b.Operations {
		wc, err := loadWorkCenter(ctx, tx, in.CompanyID, op.WorkCenterID)
		if err != nil {
			return ProductionOrder{}, err
		}
		minutes := op.SetupMinutes.Add(op.RunMinutes.Mul(o.Quantity)).Normalize()
		o.Operations = append(o.Operations, ProductionOrderOperation{Seq: op.Seq, Name: op.Name, WorkCenterID: op.WorkCenterID, HourlyRate: wc.HourlyRate.Normalize(),
			PlannedMinutes: minutes, PlannedCost: labourCost(wc.HourlyRate, minutes, o.Currency), Status: "pending"})
	}
	roll, err := rollup(ctx, tx, in.CompanyID, o.Currency, b, o.Quantity, o.PlannedStart, 0)
	if err != nil {
		return ProductionOrder{}, err
	}
	o.Standard = ProductionStandardCost(roll)
	o.refresh()
	if err := insertOrder(ctx, tx, &o); err != nil {
		if errors.Is(err, errExternalTaken) {
			var other string
			_ = tx.QueryRowContext(ctx, "SELECT id FROM production_orders WHERE company_id = $1 AND external_id = $2 AND external_id <> ''", o.CompanyID, o.ExternalID).Scan(&other)
			return ProductionOrder{}, apperr.New(apperr.Conflict, "Production order %s already has external_id %q.", other, o.ExternalID).
				WithFields(apperr.FieldError{Pointer: "/external_id", Detail: "taken by " + other})
		}
		return ProductionOrder{}, err
	}
	return o, record(ctx, tx, &o, "production_order.create", EventOrderCreated)
}

// record writes an order's event and audit row.
func record(ctx context.Context, tx *db.Tx, o *ProductionOrder, action, event string) error {
	if _, err := events.Record(ctx, tx, events.Event{Type: event, Subject: o.ID, CompanyID: o.CompanyID, Data: o}); err != nil {
		return fmt.Errorf("production order %s: %w", o.ID, err)
	}
	return audit.Record(ctx, tx, audit.Entry{Action: action, ResourceType: SourceType, ResourceID: o.ID, CompanyID: o.CompanyID,
		Details: map[string]any{"status": o.Status}})
}

// GetOrder returns an order of the company.
func GetOrder(ctx context.Context, q db.Querier, companyID, id string) (ProductionOrder, error) {
	return loadOrder(ctx, q, companyID, id, false)
}

func (o *ProductionOrder) source() inventory.Source {
	return inventory.Source{Type: SourceType, ID: o.ID}
}

func (o *ProductionOrder) conflict(action string) error {
	return apperr.New(apperr.Conflict, "Production order %s is %s; it cannot be %s.", o.ID, o.Status, action)
}

// Release reserves the components in the warehouse: what is available,
// line by line; what is not is reported as a shortage on the order and in
// a shortage event, and the order is released all the same (the shop can
// start; completion needs the stock).
func (s *Service) Release(ctx context.Context, tx *db.Tx, companyID, orderID string) (ProductionOrder, []ComponentShortage, error) {
	o, err := loadOrder(ctx, tx, companyID, orderID, true)
	if err != nil {
		return ProductionOrder{}, nil, err
	}
	if o.Status != Planned {
		return ProductionOrder{}, nil, o.conflict("released")
	}
	lines := make([]inventory.WarehouseLine, len(o.Components))
	for i, c := range o.Components {
		lines[i] = inventory.WarehouseLine{ProductID: c.ProductID, Quantity: c.Required}
	}
	allocs, _, err := inventory.ReserveInWarehouse(ctx, tx, companyID, o.source(), o.WarehouseID, lines, true)
	if err != nil {
		return ProductionOrder{}, nil, err
	}
	var short []ComponentShortage
	for i := range o.Components {
		c := &o.Components[i]
		c.Reserved = allocs[i].Reserved.Normalize()
		c.Shortage = c.Required.Sub(c.Reserved).Normalize()
		if c.Shortage.Sign() > 0 {
			short = append(short, ComponentShortage{ProductID: c.ProductID, Required: c.Required, Reserved: c.Reserved, Shortage: c.Shortage})
		}
	}
	now := tx.Now()
	o.Status, o.ReleasedAt = Released, &now
	if err := updateOrder(ctx, tx, &o); err != nil {
		return ProductionOrder{}, nil, err
	}
	if len(short) > 0 {
		if _, err := events.Record(ctx, tx, events.Event{Type: EventShortage, Subject: o.ID, CompanyID: o.CompanyID,
			Data: ComponentShortageReport{ProductionOrderID: o.ID, ProductID: o.ProductID, WarehouseID: o.WarehouseID, Shortages: short}}); err != nil {
			return ProductionOrder{}, nil, fmt.Errorf("shortage event of %s: %w", o.ID, err)
		}
	}
	if short == nil {
		short = []ComponentShortage{}
	}
	return o, short, record(ctx, tx, &o, "production_order.release", EventOrderReleased)
}

// Start marks a released order in progress (the first shop-floor event
// does the same).
func (s *Service) Start(ctx context.Context, tx *db.Tx, companyID, orderID string) (ProductionOrder, error) {
	o, err := loadOrder(ctx, tx, companyID, orderID, true)
	if err != nil {
		return ProductionOrder{}, err
	}
	switch o.Status {
	case InProgress:
		return o, nil
	case Released:
	default:
		return ProductionOrder{}, o.conflict("started")
	}
	o.start(tx.Now())
	if err := updateOrder(ctx, tx, &o); err != nil {
		return ProductionOrder{}, err
	}
	return o, record(ctx, tx, &o, "production_order.start", EventOrderStarted)
}

func (o *ProductionOrder) start(at time.Time) {
	o.Status, o.StartedAt = InProgress, &at
}

// Cancel gives back the reservations of an order nothing was consumed for.
func (s *Service) Cancel(ctx context.Context, tx *db.Tx, companyID, orderID string) (ProductionOrder, error) {
	o, err := loadOrder(ctx, tx, companyID, orderID, true)
	if err != nil {
		return ProductionOrder{}, err
	}
	if o.Status != Planned && o.Status != Released && o.Status != InProgress {
		return ProductionOrder{}, o.conflict("cancelled")
	}
	if _, err := inventory.Release(ctx, tx, companyID, o.source()); err != nil {
		return ProductionOrder{}, err
	}
	o.Status = Cancelled
	if err := updateOrder(ctx, tx, &o); err != nil {
		return ProductionOrder{}, err
	}
	return o, record(ctx, tx, &o, "production_order.cancel", EventOrderCancelled)
}

// ComponentConsumption reports what a component really used.
type ComponentConsumption struct {
	ProductID string        `json:"product_id"`
	Quantity  money.Decimal `json:"quantity" doc:"Stock units actually used (default: the planned requirement)."`
}

// CompleteProductionOrderRequest completes an order.
type CompleteProductionOrderRequest struct {
	CompanyID     string                 `json:"company_id,omitempty"`
	Date          string                 `json:"date,omitempty" doc:"YYYY-MM-DD of the stock moves and ledger entries; default today in the company's time zone."`
	GoodQuantity  *money.Decimal         `json:"good_quantity,omitempty" doc:"Default: the last operation's good quantity from the shop floor, else the order quantity."`
	ScrapQuantity *money.Decimal         `json:"scrap_quantity,omitempty" doc:"Default: the last operation's scrapped quantity."`
	Lot           string                 `json:"lot,omitempty" doc:"Finished lot; default the order's."`
	Consumption   []ComponentConsumption `json:"consumption,omitempty" maxItems:"500" doc:"Actual use of components that differs from plan."`
}

// Complete consumes the components (their reservations first, lot by
// lot), charges the labour reported so far to work in progress, and
// receives the good output at standard cost (by-products at theirs) into
// the order's location and lot; each component lot is linked to the
// finished lot. All in the caller's transaction: all or nothing.
func (s *Service) Complete(ctx context.Context, tx *db.Tx, companyID, orderID string, in CompleteProductionOrderRequest) (ProductionOrder, error) {
	o, err := loadOrder(ctx, tx, companyID, orderID, true)
	if err != nil {
		return ProductionOrder{}, err
	}
	if o.Status != Released && o.Status != InProgress {
		return ProductionOrder{}, o.conflict("completed")
	}
	if in.Date == "" {
		if in.Date, err = today(ctx, tx, companyID, tx.Now()); err != nil {
			return ProductionOrder{}, err
		}
	} else if !validDate(in.Date) {
		return ProductionOrder{}, apperr.Field("/date", "must be a date as YYYY-MM-DD")
	}
	good, scrap := o.GoodQuantity, o.ScrapQuantity
	if len(o.Operations) == 0 || good.IsZero() && scrap.IsZero() {
		good = o.Quantity
	}
	if in.GoodQuantity != nil {
		good = *in.GoodQuantity
	}
	if in.ScrapQuantity != nil {
		scrap = *in.ScrapQuantity
	}
	if fe := checkQuantity("/good_quantity", good, true); fe != nil {
		return ProductionOrder{}, apperr.Fields(*fe)
	}
	if fe := checkQuantity("/scrap_quantity", scrap, true); fe != nil {
		return ProductionOrder{}, apperr.Fields(*fe)
	}
	if good.Add(scrap).IsZero() {
		return ProductionOrder{}, apperr.Field("/good_quantity", "Nothing was made; cancel the order instead.")
	}
	if in.Lot != "" {
		o.Lot = in.Lot
	}
	use := map[string]money.Decimal{}
	for i, c := range in.Consumption {
		found := false
		for _, oc := range o.Components {
			found = found || oc.ProductID == c.ProductID
		}
		if !found {
			return ProductionOrder{}, apperr.Field(fmt.Sprintf("/consumption/%d/product_id", i), "%s is not a component of this order.", c.ProductID)
		}
		if fe := checkQuantity(fmt.Sprintf("/consumption/%d/quantity", i), c.Quantity, true); fe != nil {
			return ProductionOrder{}, apperr.Fields(*fe)
		}
		use[c.ProductID] = c.Quantity
	}
	wip, err := s.acct(ctx, tx, companyID, AccountWIP)
	if err != nil {
		return ProductionOrder{}, err
	}
	src := o.source()
	for i := range o.Components {
		c := &o.Components[i]
		need := c.Required
		if q, ok := use[c.ProductID]; ok {
			need = q
		}
		if err := s.consume(ctx, tx, &o, c, need, in.Date, wip, i); err != nil {
			return ProductionOrder{}, err
		}
	}
	// What was reserved and not used goes back to available stock.
	if _, err := inventory.Release(ctx, tx, companyID, src); err != nil {
		return ProductionOrder{}, err
	}
	if err := s.postLabour(ctx, tx, &o, in.Date, wip, "labour"); err != nil {
		return ProductionOrder{}, err
	}
	if good.Sign() > 0 {
		unit := o.Standard.UnitCost
		m, err := inventory.PostAgainst(ctx, tx, inventory.MoveInput{CompanyID: companyID, Type: inventory.Receipt, ProductID: o.ProductID,
			ToLocationID: o.LocationID, Lot: o.Lot, Quantity: good, UnitCost: &unit, Date: in.Date,
			Memo: "Output of production order " + o.ID, SourceType: SourceType, SourceID: o.ID, Purpose: "output"}, wip)
		if err != nil {
			return ProductionOrder{}, err
		}
		o.Output = append(o.Output, ProductionMove{MoveID: m.ID, ProductID: m.ProductID, LocationID: m.ToLocationID, Lot: m.Lot, Quantity: m.Quantity, Value: m.Value})
		o.Actual.Output = o.Actual.Output.Add(m.Value)
		for _, c := range o.Consumption {
			if _, err := tx.ExecContext(ctx, `INSERT INTO lot_genealogy (company_id, production_order_id, product_id, lot, component_id, component_lot, quantity, stock_move_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`, companyID, o.ID, o.ProductID, o.Lot, c.ProductID, c.Lot, money.Quantity(&c.Quantity), c.MoveID); err != nil {
				return ProductionOrder{}, fmt.Errorf("lot genealogy of %s: %w", o.ID, err)
			}
		}
	}
	made := good.Add(scrap)
	for i, bp := range o.ByProducts {
		q, err := bp.Quantity.Mul(made).DivRound(o.Quantity, money.QuantityScale, money.HalfEven)
		if err != nil || q.Sign() <= 0 {
			continue
		}
		info, err := inventory.Product(ctx, tx, companyID, bp.ProductID, fmt.Sprintf("/by_products/%d", i))
		if err != nil {
			return ProductionOrder{}, err
		}
		lot := ""
		if info.Tracking == inventory.TrackLot {
			lot = strings.ToUpper(o.ID)
		}
		unit := bp.UnitCost
		m, err := inventory.PostAgainst(ctx, tx, inventory.MoveInput{CompanyID: companyID, Type: inventory.Receipt, ProductID: bp.ProductID,
			ToLocationID: o.LocationID, Lot: lot, Quantity: q, UnitCost: &unit, Date: in.Date,
			Memo: "By-product of production order " + o.ID, SourceType: SourceType, SourceID: o.ID, Purpose: fmt.Sprintf("by-product/%d", i)}, wip)
		if err != nil {
			return ProductionOrder{}, err
		}
		o.Output = append(o.Output, ProductionMove{MoveID: m.ID, ProductID: m.ProductID, LocationID: m.ToLocationID, Lot: m.Lot, Quantity: m.Quantity, Value: m.Value, ByProduct: true})
		o.Actual.ByProduct = o.Actual.ByProduct.Add(m.Value)
	}
	now := tx.Now()
	o.GoodQuantity, o.ScrapQuantity = good.Normalize(), scrap.Normalize()
	if o.StartedAt == nil {
		o.StartedAt = &now
	}
	o.Status, o.CompletedAt = Completed, &now
	o.refresh()
	if err := updateOrder(ctx, tx, &o); err != nil {
		return ProductionOrder{}, err
	}
	return o, record(ctx, tx, &o, "production_order.complete", EventOrderCompleted)
}

// consume issues need of a component into work in progress: from the
// order's reservations first (their lots), then from whatever else is
// available in the warehouse; short is 409 and nothing is consumed.
func (s *Service) consume(ctx context.Context, tx *db.Tx, o *ProductionOrder, c *ProductionOrderComponent, need money.Decimal, date, wip string, line int) error {
	left := need.Sub(c.Consumed)
	if left.Sign() <= 0 {
		return nil
	}
	src := o.source()
	res, err := inventory.ActiveReservations(ctx, tx, o.CompanyID, src, c.ProductID)
	if err != nil {
		return err
	}
	if total := sumReserved(res); total.Cmp(left) < 0 {
		// Top up the reservation from what else is available now, so the
		// issues below take it lot by lot like the rest.
		_, short, err := inventory.ReserveInWarehouse(ctx, tx, o.CompanyID, src, o.WarehouseID,
			[]inventory.WarehouseLine{{ProductID: c.ProductID, Quantity: left.Sub(total)}}, false)
		if err != nil {
			return err
		}
		if len(short) > 0 {
			return apperr.New(apperr.Conflict, "Only %s of component %s is available in warehouse %s; %s is needed to complete production order %s.",
				short[0].Available.Add(total).Normalize(), c.ProductID, o.WarehouseID, left.Normalize(), o.ID).
				WithFields(apperr.FieldError{Pointer: fmt.Sprintf("/consumption/%d", line), Detail: "short of " + c.ProductID})
		}
		if res, err = inventory.ActiveReservations(ctx, tx, o.CompanyID, src, c.ProductID); err != nil {
			return err
		}
	}
	for n, r := range res {
		if left.Sign() <= 0 {
			break
		}
		take := r.Quantity
		if take.Cmp(left) > 0 {
			take = left
		}
		m, err := inventory.PostAgainst(ctx, tx, inventory.MoveInput{CompanyID: o.CompanyID, Type: inventory.Issue, ProductID: c.ProductID,
			FromLocationID: r.LocationID, Lot: r.Lot, Quantity: take, Date: date, Memo: "Consumed by production order " + o.ID,
			SourceType: SourceType, SourceID: o.ID, Purpose: fmt.Sprintf("consume/%d/%d/%d", line, len(o.Consumption), n), Consumes: &src}, wip)
		if err != nil {
			return err
		}
		o.Consumption = append(o.Consumption, ProductionMove{MoveID: m.ID, ProductID: m.ProductID, LocationID: m.FromLocationID, Lot: m.Lot, Quantity: m.Quantity, Value: m.Value})
		c.Consumed = c.Consumed.Add(m.Quantity).Normalize()
		c.ConsumedValue = c.ConsumedValue.Add(m.Value)
		o.Actual.Material = o.Actual.Material.Add(m.Value)
		left = left.Sub(m.Quantity)
	}
	return nil
}

func sumReserved(rs []inventory.StockReservation) money.Decimal {
	var t money.Decimal
	for _, r := range rs {
		t = t.Add(r.Quantity)
	}
	return t
}

// postLabour charges the labour reported and not yet charged to work in
// progress, against labour absorbed (a credit to expense that offsets the
// payroll and machine costs booked elsewhere). A reduction (late events
// that shortened the run time) posts the other way.
func (s *Service) postLabour(ctx context.Context, tx *db.Tx, o *ProductionOrder, date, wip, purpose string) error {
	delta := o.Actual.Labour.Sub(o.LabourPosted)
	if delta.IsZero() {
		return nil
	}
	absorbed, err := s.acct(ctx, tx, o.CompanyID, AccountLabourAbsorbed)
	if err != nil {
		return err
	}
	amount := delta.Abs()
	lines := []ledger.Line{{AccountID: wip, Debit: amount}, {AccountID: absorbed, Credit: amount}}
	if delta.IsNegative() {
		lines = []ledger.Line{{AccountID: absorbed, Debit: amount}, {AccountID: wip, Credit: amount}}
	}
	e, err := ledger.Post(ctx, tx, ledger.Posting{CompanyID: o.CompanyID, Date: date, Currency: o.Currency, SourceType: SourceType, SourceID: o.ID,
		Purpose: purpose, Memo: "Labour of production order " + o.ID, Lines: lines})
	if err != nil {
		return err
	}
	o.LabourPosted = o.LabourPosted.Add(delta)
	o.Postings = append(o.Postings, ProductionPosting{Purpose: purpose, JournalEntryID: e.ID, Amount: delta})
	return nil
}

// CloseProductionOrderRequest closes an order.
type CloseProductionOrderRequest struct {
	CompanyID string `json:"company_id,omitempty"`
	Date      string `json:"date,omitempty" doc:"YYYY-MM-DD of the variance entry; default today in the company's time zone."`
}

// Close charges labour reported since completion, then empties the
// order's work in progress into the variances: scrap at the standard cost
// of the scrapped output, material against the standard material of all
// output, and labour takes the rest (rounding included), so work in
// progress of a closed order is exactly zero.
func (s *Service) Close(ctx context.Context, tx *db.Tx, companyID, orderID string, in CloseProductionOrderRequest) (ProductionOrder, error) {
	o, err := loadOrder(ctx, tx, companyID, orderID, true)
	if err != nil {
		return ProductionOrder{}, err
	}
	if o.Status != Completed {
		return ProductionOrder{}, o.conflict("closed")
	}
	if in.Date == "" {
		if in.Date, err = today(ctx, tx, companyID, tx.Now()); err != nil {
			return ProductionOrder{}, err
		}
	} else if !validDate(in.Date) {
		return ProductionOrder{}, apperr.Field("/date", "must be a date as YYYY-MM-DD")
	}
	wip, err := s.acct(ctx, tx, companyID, AccountWIP)
	if err != nil {
		return ProductionOrder{}, err
	}
	if err := s.postLabour(ctx, tx, &o, in.Date, wip, "labour-close"); err != nil {
		return ProductionOrder{}, err
	}
	cur := o.Currency
	residual := o.Actual.Material.Add(o.LabourPosted).Sub(o.Actual.Output).Sub(o.Actual.ByProduct)
	made := o.GoodQuantity.Add(o.ScrapQuantity)
	scrapVar := money.RoundAmount(o.Standard.UnitCost.Mul(o.ScrapQuantity), cur, money.HalfEven)
	stdMaterial, err := o.Standard.Material.Sub(o.Standard.ByProductCredit).Mul(made).DivRound(o.Quantity, cur.MinorUnits(), money.HalfEven)
	if err != nil {
		return ProductionOrder{}, fmt.Errorf("standard material of %s: %w", o.ID, err)
	}
	matVar := o.Actual.Material.Sub(o.Actual.ByProduct).Sub(stdMaterial)
	labVar := residual.Sub(scrapVar).Sub(matVar)
	v := ProductionVariances{Material: matVar, Labour: labVar, Scrap: scrapVar}
	var lines []ledger.Line
	for _, x := range []struct {
		spec   AccountSpec
		amount money.Decimal
	}{{AccountMaterialVar, matVar}, {AccountLabourVar, labVar}, {AccountScrap, scrapVar}} {
		if x.amount.IsZero() {
			continue
		}
		acct, err := s.acct(ctx, tx, companyID, x.spec)
		if err != nil {
			return ProductionOrder{}, err
		}
		if x.amount.Sign() > 0 {
			lines = append(lines, ledger.Line{AccountID: acct, Debit: x.amount})
		} else {
			lines = append(lines, ledger.Line{AccountID: acct, Credit: x.amount.Neg()})
		}
	}
	if residual.Sign() > 0 {
		lines = append(lines, ledger.Line{AccountID: wip, Credit: residual})
	} else if residual.Sign() < 0 {
		lines = append(lines, ledger.Line{AccountID: wip, Debit: residual.Neg()})
	}
	if len(lines) > 1 {
		e, err := ledger.Post(ctx, tx, ledger.Posting{CompanyID: companyID, Date: in.Date, Currency: cur, SourceType: SourceType, SourceID: o.ID,
			Purpose: "variances", Memo: "Variances of production order " + o.ID, Lines: lines})
		if err != nil {
			return ProductionOrder{}, err
		}
		o.Postings = append(o.Postings, ProductionPosting{Purpose: "variances", JournalEntryID: e.ID, Amount: residual})
	}
	now := tx.Now()
	o.Variances, o.Status, o.ClosedAt = &v, Closed, &now
	o.refresh()
	if err := updateOrder(ctx, tx, &o); err != nil {
		return ProductionOrder{}, err
	}
	return o, record(ctx, tx, &o, "production_order.close", EventOrderClosed)
}

// refresh recomputes the derived figures of an order.
func (o *ProductionOrder) refresh() {
	var labour money.Decimal
	for i := range o.Operations {
		op := &o.Operations[i]
		if op.Events == 0 || op.RunSeconds == 0 {
			op.ActualCost = op.PlannedCost
		} else {
			v, _ := op.HourlyRate.Mul(money.FromInt(op.RunSeconds)).DivRound(money.FromInt(3600), o.Currency.MinorUnits(), money.HalfEven)
			op.ActualCost = v
		}
		labour = labour.Add(op.ActualCost)
	}
	o.Actual.Labour = labour
	if o.Status != Completed && o.Status != Closed && len(o.Operations) > 0 {
		last := o.Operations[len(o.Operations)-1]
		o.GoodQuantity, o.ScrapQuantity = last.GoodQuantity.Normalize(), last.ScrapQuantity.Normalize()
	}
	if o.Quantity.Sign() > 0 {
		p, _ := o.GoodQuantity.Mul(money.FromInt(100)).DivRound(o.Quantity, 2, money.HalfEven)
		o.ProgressPercent = p
	}
	o.Actual.WIP = o.Actual.Material.Add(o.LabourPosted).Sub(o.Actual.Output).Sub(o.Actual.ByProduct)
	if o.Variances != nil {
		o.Actual.WIP = o.Actual.WIP.Sub(o.Variances.Material).Sub(o.Variances.Labour).Sub(o.Variances.Scrap)
	}
}

// LotGenealogyLink is one component lot that went into a produced lot.
type LotGenealogyLink struct {
	ProductionOrderID string        `json:"production_order_id"`
	ProductID         string        `json:"product_id"`
	Lot               string        `json:"lot"`
	ComponentID       string        `json:"component_id"`
	ComponentLot      string        `json:"component_lot,omitempty"`
	Quantity          money.Decimal `json:"quantity"`
	StockMoveID       string        `json:"stock_move_id"`
}

// LotGenealogy lists what a lot was made from (backward: produced product and
// lot) or what was made from it (forward: a component and its lot).
func LotGenealogy(ctx context.Context, q db.Querier, companyID, productID, lot string, forward bool) ([]LotGenealogyLink, error) {
	where := "product_id = $2 AND lot = $3"
	if forward {
		where = "component_id = $2 AND component_lot = $3"
	}
	rows, err := q.QueryContext(ctx, `SELECT production_order_id, product_id, lot, component_id, component_lot, quantity, stock_move_id
FROM lot_genealogy WHERE company_id = $1 AND `+where+` ORDER BY production_order_id, stock_move_id`, companyID, productID, lot)
	if err != nil {
		return nil, fmt.Errorf("lot genealogy: %w", err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (LotGenealogyLink, error) {
		var g LotGenealogyLink
		err := rows.Scan(&g.ProductionOrderID, &g.ProductID, &g.Lot, &g.ComponentID, &g.ComponentLot, money.Quantity(&g.Quantity), &g.StockMoveID)
		g.Quantity = g.Quantity.Normalize()
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("lot genealogy: %w", err)
	}
	if out == nil {
		out = []LotGenealogyLink{}
	}
	return out, nil
}
