package app

import (
	"context"

	"github.com/mainstay-erp/mainstay/internal/hr"
	"github.com/mainstay-erp/mainstay/internal/payroll"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// hrWiring holds the mounted HR and payroll modules, for the demo seed.
type hrWiring struct {
	hr      *hr.Module
	payroll *payroll.Module
}

// mountHR wires the HR and payroll modules.
func (a *App) mountHR(api *rest.API, eng *resource.Engine) {
	h := hr.Mount(api, eng, a.db, a.keyring)
	p := payroll.Mount(api, eng, a.db, h.Employees, a.keyring)
	a.hr = &hrWiring{hr: h, payroll: p}
}

// seedDemoHR gives the demo company its staff and a posted payroll run.
func (a *App) seedDemoHR(ctx context.Context, company string) error {
	return a.seedDemoStaff(ctx, company, a.hr)
}
