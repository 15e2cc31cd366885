package payroll

import (
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Run statuses and kinds.
const (
	Draft     = "draft"
	Approved  = "approved"
	Posted    = "posted"
	Paid      = "paid"
	Cancelled = "cancelled"

	Regular  = "regular"
	OffCycle = "off_cycle"
)

// PayrollRunRequest starts a payroll run.
type PayrollRunRequest struct {
	CompanyID     string          `json:"company_id,omitempty"`
	Kind          string          `json:"kind,omitempty" enum:"regular,off_cycle" doc:"regular (default): everyone on pay_schedule_id employed in the period, once per schedule and period; off_cycle: a correction or one-off for employee_ids and the adjustments' employees, paying the difference to what posted runs paid for the period."`
	PayScheduleID string          `json:"pay_schedule_id,omitempty" doc:"Required for regular runs."`
	PeriodStart   string          `json:"period_start" doc:"YYYY-MM-DD, first day of the pay period."`
	PeriodEnd     string          `json:"period_end" doc:"YYYY-MM-DD, last day; the posting date of the run's journal entry."`
	PayDate       string          `json:"pay_date" doc:"YYYY-MM-DD the net pay is paid; decides which rate tables apply and the payment's posting date."`
	EmployeeIDs   []string        `json:"employee_ids,omitempty" maxItems:"1000" doc:"Limit the run to these employees."`
	Adjustments   []PayAdjustment `json:"adjustments,omitempty" maxItems:"1000" doc:"Off-cycle one-off lines (bonuses, corrections)."`
	Memo          string          `json:"memo,omitempty" maxLength:"200"`
}

// PayrollRunEmployee is one employee's part of a run.
type PayrollRunEmployee struct {
	EmployeeID   string        `json:"employee_id"`
	PayslipID    string        `json:"payslip_id"`
	CostCenter   string        `json:"cost_center,omitempty"`
	Gross        money.Decimal `json:"gross"`
	Net          money.Decimal `json:"net"`
	EmployerCost money.Decimal `json:"employer_cost"`
}

// PayrollRun is one run: its period, status and totals. employees, the
// per-employee breakdown, is read from the (encrypted) payslips and shown
// only on GET /v1/payroll-runs/{id}.
type PayrollRun struct {
	ID             string               `json:"id" readOnly:"true"`
	CompanyID      string               `json:"company_id"`
	Status         string               `json:"status" enum:"draft,approved,posted,paid,cancelled"`
	Kind           string               `json:"kind" enum:"regular,off_cycle"`
	PayScheduleID  string               `json:"pay_schedule_id,omitempty"`
	PeriodStart    string               `json:"period_start"`
	PeriodEnd      string               `json:"period_end"`
	PayDate        string               `json:"pay_date"`
	Currency       money.Currency       `json:"currency"`
	Memo           string               `json:"memo,omitempty"`
	EmployeeCount  int                  `json:"employee_count"`
	Totals         PayTotals            `json:"totals" doc:"Sums over the run's payslips."`
	Employees      []PayrollRunEmployee `json:"employees,omitempty" doc:"Per employee (GET of one run only)."`
	JournalEntryID string               `json:"journal_entry_id,omitempty" doc:"The entry posting the run."`
	PaymentEntryID string               `json:"payment_entry_id,omitempty" doc:"The entry paying the net pay."`
	OperationID    string               `json:"operation_id,omitempty"`
	CreatedBy      string               `json:"created_by"`
	ApprovedBy     string               `json:"approved_by,omitempty"`
	CalculatedAt   time.Time            `json:"calculated_at"`
	ApprovedAt     *time.Time           `json:"approved_at,omitempty"`
	PostedAt       *time.Time           `json:"posted_at,omitempty"`
	PaidAt         *time.Time           `json:"paid_at,omitempty"`
	CreatedAt      time.Time            `json:"created_at"`
	UpdatedAt      time.Time            `json:"updated_at"`
}

// PayrollRunList is a page of runs.
type PayrollRunList struct {
	Data          []PayrollRun `json:"data"`
	NextPageToken string       `json:"next_page_token"`
}

// Payslip is one employee's pay in one run.
type Payslip struct {
	ID             string                   `json:"id"`
	CompanyID      string                   `json:"company_id"`
	PayrollRunID   string                   `json:"payroll_run_id"`
	RunKind        string                   `json:"run_kind" enum:"regular,off_cycle"`
	RunStatus      string                   `json:"run_status" enum:"draft,approved,posted,paid,cancelled"`
	EmployeeID     string                   `json:"employee_id"`
	EmployeeNumber string                   `json:"employee_number"`
	EmployeeName   string                   `json:"employee_name"`
	CostCenter     string                   `json:"cost_center,omitempty"`
	PeriodStart    string                   `json:"period_start"`
	PeriodEnd      string                   `json:"period_end"`
	PayDate        string                   `json:"pay_date"`
	Currency       money.Currency           `json:"currency"`
	PaidDays       int                      `json:"paid_days"`
	PeriodDays     int                      `json:"period_days"`
	Lines          []PayslipLine            `json:"lines"`
	Totals         PayTotals                `json:"totals"`
	Bases          map[string]money.Decimal `json:"bases"`
	CreatedAt      time.Time                `json:"created_at"`
}

// PayslipList is a page of payslips.
type PayslipList struct {
	Data          []Payslip `json:"data"`
	NextPageToken string    `json:"next_page_token"`
}
