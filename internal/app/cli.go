package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/config"
	"github.com/mainstay-erp/mainstay/internal/platform/crypto"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/migrate"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

// Version is set at build time with -ldflags "-X …/internal/app.Version=…".
var Version = "dev"

const usage = `mainstay — a headless ERP whose product is its API.

Usage:
  mainstay serve [flags]     start the API server (SQLite in ./mainstay-data by default)
  mainstay migrate [flags]   bring the database schema up to date and exit
  mainstay backup [flags] [FILE]
                             copy the SQLite database (VACUUM INTO), or print the
                             pg_dump command for PostgreSQL
  mainstay clients create|list|revoke
                             manage API clients (client-credentials secrets)
  mainstay keys rotate       sign new tokens with a new key (old tokens stay valid
                             until they expire; then the old key is retired)
  mainstay keys rotate-data  new data keys for encrypted fields; re-encrypts online
  mainstay audit verify      check the audit log's hash chain and signed checkpoints
  mainstay audit prune --older-than 8760h
                             delete old audit rows, keeping a verifiable chain
  mainstay bench [flags]     seed a storefront dataset, load the API with a mixed
                             workload, report throughput and latency, check the books
  mainstay version           print the version

Every command takes the same configuration flags; "mainstay serve -h" lists
them with their environment variables.
`

// ErrUsage marks a command line that could not be understood; the message
// has already been printed.
var ErrUsage = errors.New("usage")

// Main runs the command line. It returns instead of exiting, so tests run
// it as the binary would.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ErrUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, rest, getenv, stdout, stderr)
	case "backup":
		return backup(ctx, rest, getenv, stdout, stderr)
	case "clients":
		return clientsCmd(ctx, rest, getenv, stdout, stderr)
	case "keys":
		return keysCmd(ctx, rest, getenv, stdout, stderr)
	case "audit":
		return auditCmd(ctx, rest, getenv, stdout, stderr)
	case "bench":
		return benchCmd(ctx, rest, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "mainstay", version())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "mainstay: unknown command %q\n\n%s", cmd, usage)
	return ErrUsage
}

func version() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	return v
}

func load(name string, args []string, getenv func(string) string, stderr io.Writer) (config.Config, []string, *slog.Logger, error) {
	return loadWith(name, args, getenv, stderr, nil)
}

func loadWith(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (config.Config, []string, *slog.Logger, error) {
	cfg, rest, err := config.LoadWith(name, args, getenv, stderr, extra)
	if errors.Is(err, flag.ErrHelp) {
		return cfg, nil, nil, ErrUsage
	}
	if err != nil {
		return cfg, nil, nil, fmt.Errorf("configuration: %w", err)
	}
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewJSONHandler(stderr, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(stderr, opts)
	}
	return cfg, rest, slog.New(h), nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, rest, log, err := load("serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("serve: unexpected argument %q", rest[0])
	}
	a, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		a.Close()
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	scheme := "http"
	if cfg.TLSCert != "" || cfg.TLSSelfSigned {
		scheme = "https"
	}
	if cfg.Demo {
		if err := a.seedDemo(ctx, stdout, scheme+"://"+ln.Addr().String()); err != nil {
			ln.Close()
			a.Close()
			return err
		}
	}
	a.Start()
	log.Info("listening", "url", scheme+"://"+ln.Addr().String(), "database", a.db.Engine(), "version", version())
	fmt.Fprintf(stdout, "Mainstay %s is serving on %s://%s (database: %s). Stop it with Ctrl-C.\n", version(), scheme, ln.Addr(), a.db.Engine())
	err = a.Serve(ctx, ln)
	log.Info("stopped", "err", err)
	return err
}

func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, rest, log, err := load("migrate", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("migrate: unexpected argument %q", rest[0])
	}
	d, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return err
	}
	defer d.Close()
	res, err := migrate.Up(ctx, d, log)
	if err != nil {
		return err
	}
	if len(res.Applied) == 0 {
		fmt.Fprintf(stdout, "Schema is current at version %d.\n", res.To)
		return nil
	}
	fmt.Fprintf(stdout, "Migrated from version %d to %d: %s.\n", res.From, res.To, strings.Join(res.Applied, ", "))
	if res.Backup != "" {
		fmt.Fprintf(stdout, "A copy of the database before migrating is at %s.\n", res.Backup)
	}
	return nil
}

func backup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, rest, log, err := load("backup", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return fmt.Errorf("backup: want at most one FILE, got %q", rest)
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	if strings.HasPrefix(cfg.DatabaseURL, "postgres") {
		out := "mainstay-" + stamp + ".dump"
		if len(rest) == 1 {
			out = rest[0]
		}
		fmt.Fprintf(stdout, "PostgreSQL is backed up with its own tool; run:\n\n  pg_dump --format=custom --file=%s '%s'\n\n(put the password in PGPASSWORD or ~/.pgpass rather than the URL).\n", out, db.Redact(cfg.DatabaseURL))
		return nil
	}
	d, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return err
	}
	defer d.Close()
	out := filepath.Join(filepath.Dir(d.Path()), "backups", "mainstay-"+stamp+".db")
	if len(rest) == 1 {
		out = rest[0]
	}
	if err := migrate.VacuumInto(ctx, d, out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Backed up %s to %s.\n", d.Path(), out)
	return nil
}

// keysCmd rotates the token signing key.
func keysCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "rotate-data" {
		return rotateDataKeys(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprint(stderr, "Usage:\n  mainstay keys rotate\n  mainstay keys rotate-data\n")
		return ErrUsage
	}
	cfg, rest, log, err := load("keys rotate", args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("keys rotate: unexpected argument %q", rest[0])
	}
	d, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, log); err != nil {
		return err
	}
	kid, err := auth.RotateKey(ctx, d)
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	fmt.Fprintf(stdout, "New signing key %s. Nodes sign with it within a minute; tokens signed with the old key stay valid until they expire.\n", kid)
	return nil
}

// auditCmd verifies or prunes the audit log. Both need the master key the
// server uses (its checkpoints are signed with a key derived from it).
func auditCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "prune") {
		fmt.Fprint(stderr, "Usage:\n  mainstay audit verify [--json]\n  mainstay audit prune --older-than DURATION\n")
		return ErrUsage
	}
	sub := args[0]
	var asJSON bool
	var olderThan time.Duration
	cfg, rest, log, err := loadWith("audit "+sub, args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
		if sub == "prune" {
			fs.DurationVar(&olderThan, "older-than", 0, "delete rows older than this (e.g. 8760h for a year)")
		}
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("audit %s: unexpected argument %q", sub, rest[0])
	}
	a, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if sub == "prune" {
		if olderThan <= 0 {
			return errors.New("audit prune: give --older-than, e.g. 8760h")
		}
		n, err := audit.Prune(ctx, a.db, a.master, olderThan)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Deleted %d audit rows; the chain now starts at a signed checkpoint.\n", n)
		return nil
	}
	// Number and link what is committed but not yet sequenced first.
	for _, t := range sequencer.Tables {
		for {
			n, err := sequencer.Assign(ctx, a.db, t)
			if err != nil {
				return err
			}
			if n < sequencer.Batch {
				break
			}
		}
	}
	rep, err := audit.Verify(ctx, a.db, a.master)
	if err != nil {
		return err
	}
	if asJSON {
		_ = json.NewEncoder(stdout).Encode(rep)
	} else {
		fmt.Fprintln(stdout, rep.String())
	}
	if !rep.OK() {
		return errors.New("audit verify: the audit log has been tampered with")
	}
	return nil
}

// encryptedTables are the tables whose documents hold encrypted members,
// each bound to its row id (the resource engine's convention).
var encryptedTables = []string{"customers", "suppliers"}

// rotateDataKeys gives every owner of encrypted data a new data key and
// re-encrypts the stored values with it, in small batches, while servers
// keep serving: rows a server changes meanwhile are skipped (they were
// just written with the new key).
func rotateDataKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, rest, log, err := load("keys rotate-data", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("keys rotate-data: unexpected argument %q", rest[0])
	}
	a, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	owners, err := a.keyring.Owners(ctx)
	if err != nil {
		return err
	}
	for _, o := range owners {
		if _, err := a.keyring.RotateOwner(ctx, o); err != nil {
			return fmt.Errorf("keys rotate-data: owner %s: %w", o, err)
		}
	}
	total := 0
	for _, table := range encryptedTables {
		n, err := crypto.Reencrypt(ctx, a.keyring, crypto.Target{Table: table, IDColumn: "id", VersionColumn: "version", DocColumn: "doc"})
		if err != nil {
			return fmt.Errorf("keys rotate-data: %s: %w", table, err)
		}
		total += n
	}
	fmt.Fprintf(stdout, "New data keys for %d owners; %d records re-encrypted. Running servers pick the new keys up within %s.\n", len(owners), total, crypto.CacheTTL)
	return nil
}
