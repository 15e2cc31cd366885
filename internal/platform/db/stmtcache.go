package db

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"sync/atomic"

	"modernc.org/sqlite"
)

// SQLite parses and plans every statement it is given, and the driver
// prepares each query afresh: profiles of the storefront load showed the
// SQL parser taking half the CPU of a request on SQLite. So each SQLite
// connection keeps its most recent statements prepared, keyed by their
// text — SQL here is written once with placeholders, so the texts repeat.
// (PostgreSQL's driver, pgx, caches prepared statements per connection
// itself.)

// stmtsPrepared counts statements prepared for the cache, for tests.
var stmtsPrepared atomic.Int64

// stmtCacheSize is how many prepared statements a connection keeps.
const stmtCacheSize = 256

// cachingConnector wraps the SQLite driver's connector so that its
// connections cache prepared statements.
type cachingConnector struct{ inner driver.Connector }

func newCachingConnector(dsn string) (driver.Connector, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return cachingConnector{inner: c}, nil
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: conn, stmts: map[string]*list.Element{}, lru: list.New()}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.inner.Driver() }

// cachingConn is one SQLite connection with its prepared statements.
// database/sql uses a connection from one goroutine at a time, so it needs
// no lock.
type cachingConn struct {
	driver.Conn
	stmts map[string]*list.Element // of *cachedStmt
	lru   *list.List               // most recently used first
}

type cachedStmt struct {
	query string
	stmt  driver.Stmt
	// busy while rows read from it are open: running it again then would
	// reset the statement under them, so another one is prepared instead.
	busy bool
}

// cacheable leaves out scripts (more than one statement) and statements
// that change the connection rather than read or write rows.
func cacheable(query string) bool {
	q := strings.TrimSpace(query)
	if strings.Contains(strings.TrimSuffix(q, ";"), ";") {
		return false
	}
	head := strings.ToUpper(q[:min(len(q), 8)])
	return strings.HasPrefix(head, "SELECT") || strings.HasPrefix(head, "INSERT") || strings.HasPrefix(head, "UPDATE") ||
		strings.HasPrefix(head, "DELETE") || strings.HasPrefix(head, "WITH")
}

// get returns the connection's prepared statement for query, preparing
// it if need be; nil when it is not to be cached or is in use.
func (c *cachingConn) get(ctx context.Context, query string) (*cachedStmt, error) {
	if el, ok := c.stmts[query]; ok {
		cs := el.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		c.lru.MoveToFront(el)
		return cs, nil
	}
	if !cacheable(query) {
		return nil, nil
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	stmtsPrepared.Add(1)
	cs := &cachedStmt{query: query, stmt: st}
	c.stmts[query] = c.lru.PushFront(cs)
	for c.lru.Len() > stmtCacheSize {
		old := c.lru.Back()
		oc := old.Value.(*cachedStmt)
		if oc.busy {
			break // closed when its rows are
		}
		c.lru.Remove(old)
		delete(c.stmts, oc.query)
		_ = oc.stmt.Close()
	}
	return cs, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs, conn: c}, nil
}

// cachedRows frees its statement for the next use when closed.
type cachedRows struct {
	driver.Rows
	cs   *cachedStmt
	conn *cachingConn
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	if _, cached := r.conn.stmts[r.cs.query]; !cached {
		err = errors.Join(err, r.cs.stmt.Close()) // the connection closed while busy
	}
	return err
}

// The rest passes through to the SQLite connection.

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *cachingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

func (c *cachingConn) Close() error {
	for el := c.lru.Front(); el != nil; el = el.Next() {
		if cs := el.Value.(*cachedStmt); !cs.busy {
			_ = cs.stmt.Close()
		}
	}
	c.stmts, c.lru = nil, list.New()
	return c.Conn.Close()
}
