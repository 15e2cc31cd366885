-- +goose Up
-- HR and payroll (docs/hr-payroll.md).
--
-- Departments, positions, pay schedules, payroll rate tables, leave types,
-- leave requests and timesheets are resource-engine records: the API
-- representation in doc plus NOT NULL projections for filters and
-- uniqueness.
--
-- Employees are effective-dated, so they are kept by hand: employees holds
-- the identity (id, external id, number) and employee_versions one row per
-- effective date, each with the whole record as of that date (doc, with
-- national id, bank account, birth date and pay sealed under the
-- employee's data key) and its projections. effective_from '0001-01-01'
-- is the record as first created (it applies from the beginning).
--
-- Payroll runs keep their totals and per-employee breakdown in doc;
-- payslips keep every amount sealed (pay is encrypted at rest), so no
-- column anywhere holds an individual's pay in clear.
CREATE TABLE departments (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    doc         TEXT NOT NULL,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    parent_id   TEXT NOT NULL,
    cost_center TEXT NOT NULL,
    active      BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX departments_external_id ON departments (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX departments_code ON departments (company_id, code);
CREATE INDEX departments_created ON departments (company_id, created_at, id);

CREATE TABLE positions (
    id            TEXT PRIMARY KEY,
    company_id    TEXT NOT NULL,
    external_id   TEXT NOT NULL DEFAULT '',
    version       BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    doc           TEXT NOT NULL,
    code          TEXT NOT NULL,
    title         TEXT NOT NULL,
    department_id TEXT NOT NULL,
    active        BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX positions_external_id ON positions (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX positions_code ON positions (company_id, code);
CREATE INDEX positions_created ON positions (company_id, created_at, id);

CREATE TABLE pay_schedules (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    doc         TEXT NOT NULL,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    frequency   TEXT NOT NULL,
    active      BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX pay_schedules_external_id ON pay_schedules (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX pay_schedules_code ON pay_schedules (company_id, code);
CREATE INDEX pay_schedules_created ON pay_schedules (company_id, created_at, id);

CREATE TABLE payroll_rate_tables (
    id           TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL,
    external_id  TEXT NOT NULL DEFAULT '',
    version      BIGINT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    doc          TEXT NOT NULL,
    code         TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    category     TEXT NOT NULL,
    party        TEXT NOT NULL,
    valid_from   TEXT NOT NULL,
    valid_to     TEXT NOT NULL,
    active       BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX payroll_rate_tables_external_id ON payroll_rate_tables (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX payroll_rate_tables_version ON payroll_rate_tables (company_id, code, valid_from);
CREATE INDEX payroll_rate_tables_created ON payroll_rate_tables (company_id, created_at, id);

CREATE TABLE leave_types (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    doc         TEXT NOT NULL,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    paid        BOOLEAN NOT NULL,
    active      BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX leave_types_external_id ON leave_types (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX leave_types_code ON leave_types (company_id, code);
CREATE INDEX leave_types_created ON leave_types (company_id, created_at, id);

CREATE TABLE leave_requests (
    id            TEXT PRIMARY KEY,
    company_id    TEXT NOT NULL,
    external_id   TEXT NOT NULL DEFAULT '',
    version       BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    doc           TEXT NOT NULL,
    employee_id   TEXT NOT NULL,
    leave_type_id TEXT NOT NULL,
    start_date    TEXT NOT NULL,
    end_date      TEXT NOT NULL,
    days          BIGINT NOT NULL,
    status        TEXT NOT NULL
);
CREATE UNIQUE INDEX leave_requests_external_id ON leave_requests (company_id, external_id) WHERE external_id <> '';
CREATE INDEX leave_requests_created ON leave_requests (company_id, created_at, id);
CREATE INDEX leave_requests_employee ON leave_requests (company_id, employee_id, start_date);

CREATE TABLE timesheets (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    doc         TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    work_date   TEXT NOT NULL,
    hours       BIGINT NOT NULL,
    cost_center TEXT NOT NULL,
    project     TEXT NOT NULL,
    status      TEXT NOT NULL
);
CREATE UNIQUE INDEX timesheets_external_id ON timesheets (company_id, external_id) WHERE external_id <> '';
CREATE INDEX timesheets_created ON timesheets (company_id, created_at, id);
CREATE INDEX timesheets_employee ON timesheets (company_id, employee_id, work_date);

CREATE TABLE employees (
    id              TEXT PRIMARY KEY,
    company_id      TEXT NOT NULL REFERENCES companies (id),
    external_id     TEXT NOT NULL DEFAULT '',
    employee_number TEXT NOT NULL,
    version         BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX employees_external_id ON employees (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX employees_number ON employees (company_id, employee_number);

CREATE TABLE employee_versions (
    employee_id     TEXT NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    company_id      TEXT NOT NULL,
    effective_from  TEXT NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    recorded_by     TEXT NOT NULL,
    doc             TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    employee_number TEXT NOT NULL,
    given_name      TEXT NOT NULL,
    family_name     TEXT NOT NULL,
    email           TEXT NOT NULL,
    department_id   TEXT NOT NULL,
    position_id     TEXT NOT NULL,
    manager_id      TEXT NOT NULL,
    cost_center     TEXT NOT NULL,
    work_location   TEXT NOT NULL,
    pay_schedule_id TEXT NOT NULL,
    jurisdiction    TEXT NOT NULL,
    start_date      TEXT NOT NULL,
    end_date        TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (employee_id, effective_from)
);
CREATE INDEX employee_versions_company ON employee_versions (company_id, employee_id, effective_from);

CREATE TABLE payroll_runs (
    id               TEXT PRIMARY KEY,
    company_id       TEXT NOT NULL REFERENCES companies (id),
    status           TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'posted', 'paid', 'cancelled')),
    kind             TEXT NOT NULL CHECK (kind IN ('regular', 'off_cycle')),
    pay_schedule_id  TEXT NOT NULL,
    period_start     TEXT NOT NULL,
    period_end       TEXT NOT NULL,
    pay_date         TEXT NOT NULL,
    currency         TEXT NOT NULL,
    employee_count   INTEGER NOT NULL,
    journal_entry_id TEXT NOT NULL DEFAULT '',
    payment_entry_id TEXT NOT NULL DEFAULT '',
    operation_id     TEXT NOT NULL DEFAULT '',
    calculated_at    TIMESTAMPTZ NOT NULL,
    posted_at        TIMESTAMPTZ,
    doc              TEXT NOT NULL,
    payment_file     TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX payroll_runs_company ON payroll_runs (company_id, id);
CREATE INDEX payroll_runs_period ON payroll_runs (company_id, pay_schedule_id, period_start);
-- One regular run per schedule and period, also against two requests at
-- once; a cancelled run frees its period.
CREATE UNIQUE INDEX payroll_runs_regular ON payroll_runs (company_id, pay_schedule_id, period_start) WHERE kind = 'regular' AND status <> 'cancelled';

CREATE TABLE payslips (
    id           TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies (id),
    run_id       TEXT NOT NULL REFERENCES payroll_runs (id),
    employee_id  TEXT NOT NULL REFERENCES employees (id),
    period_start TEXT NOT NULL,
    period_end   TEXT NOT NULL,
    pay_date     TEXT NOT NULL,
    doc          TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (run_id, employee_id)
);
CREATE INDEX payslips_company ON payslips (company_id, id);
CREATE INDEX payslips_employee ON payslips (company_id, employee_id, period_start);
