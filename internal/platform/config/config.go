// Package config defines every option of the server once, in one table,
// and reads them from flags, the environment and an optional file, in that
// order of precedence.
package config

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/ratelimit"
)

// Config is the server's configuration after defaults, file, environment
// and flags have been applied and validated.
type Config struct {
	ConfigFile      string
	Listen          string
	DataDir         string
	DatabaseURL     string
	DBMaxConns      int
	LogLevel        slog.Level
	LogFormat       string
	ShutdownTimeout time.Duration
	MaxBodyBytes    int64
	TLSCert         string
	TLSKey          string
	InsecureHTTP    bool
	TLSSelfSigned   bool
	PublicURL       string
	Demo            bool
	RedisURL        string
	MasterKey       string
	MasterKeyFile   string
	AuditRetention  time.Duration
	TrustIssuers    string
	RedisFailClosed bool
	// Webhooks and event streams.
	WebhooksAllowLoopback bool
	WebhookTimeout        time.Duration
	WebhookLease          time.Duration
	EventsPoll            time.Duration
	SSEHeartbeat          time.Duration
	// RateLimits are the default quotas per route class; a zero Quota
	// means no limit.
	RateLimits RateLimits
}

// RateLimits are the default quotas of the route classes.
type RateLimits struct {
	Read, Write, Heavy, Token, TokenAddress ratelimit.Quota
}

// TrustedIssuers returns the --trust-issuer URLs.
func (c Config) TrustedIssuers() []string {
	var out []string
	for _, u := range strings.Split(c.TrustIssuers, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// ByClass returns the quotas keyed by ratelimit class.
func (l RateLimits) ByClass() map[string]ratelimit.Quota {
	return map[string]ratelimit.Quota{
		ratelimit.ClassRead: l.Read, ratelimit.ClassWrite: l.Write, ratelimit.ClassHeavy: l.Heavy,
		ratelimit.ClassToken: l.Token, ratelimit.ClassTokenAddress: l.TokenAddress,
	}
}

// Option is one row of the table: its flag, its environment variable, its
// default, and how to apply and validate a value.
type Option struct {
	Name    string // flag name; the variable is MAINSTAY_ + upper snake case
	Default string
	Usage   string
	Secret  bool // never printed
	Bool    bool // a flag that takes no value
	Multi   bool // a flag that may be repeated; the values join with commas
	set     func(c *Config, v string) error
}

// Env is the environment variable that sets the option.
func (o Option) Env() string {
	return "MAINSTAY_" + strings.ToUpper(strings.ReplaceAll(o.Name, "-", "_"))
}

// Options is the table. README's configuration section is generated from it
// (mainstay serve --help prints the same).
var Options = []Option{
	{Name: "config", Usage: "file of KEY=VALUE lines (MAINSTAY_… names) read before the environment and flags",
		set: func(c *Config, v string) error { c.ConfigFile = v; return nil }},
	{Name: "listen", Default: "127.0.0.1:8080", Usage: "address to listen on, host:port",
		set: func(c *Config, v string) error {
			_, port, err := net.SplitHostPort(v)
			if err != nil {
				return errors.New("want host:port, e.g. 127.0.0.1:8080")
			}
			if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
				return errors.New("want a port from 0 to 65535 (0 picks a free one)")
			}
			c.Listen = v
			return nil
		}},
	{Name: "data-dir", Default: "./mainstay-data", Usage: "directory for the embedded SQLite database and backups",
		set: func(c *Config, v string) error {
			if v == "" {
				return errors.New("must not be empty")
			}
			c.DataDir = v
			return nil
		}},
	{Name: "database-url", Secret: true, Usage: "postgres://user:pass@host/db for PostgreSQL; empty for SQLite in the data directory",
		set: func(c *Config, v string) error {
			if v != "" && !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") && !strings.HasPrefix(v, "sqlite:") {
				return errors.New("want postgres://…, postgresql://… or sqlite:PATH")
			}
			c.DatabaseURL = v
			return nil
		}},
	{Name: "db-max-conns", Default: "10", Usage: "most open connections to PostgreSQL (and SQLite readers)",
		set: func(c *Config, v string) error { return setInt(&c.DBMaxConns, v, 1, 1000) }},
	{Name: "log-level", Default: "info", Usage: "debug, info, warn or error",
		set: func(c *Config, v string) error { return c.LogLevel.UnmarshalText([]byte(v)) }},
	{Name: "log-format", Default: "json", Usage: "json or text",
		set: func(c *Config, v string) error {
			if v != "json" && v != "text" {
				return errors.New("want json or text")
			}
			c.LogFormat = v
			return nil
		}},
	{Name: "shutdown-timeout", Default: "30s", Usage: "how long in-flight requests may finish after SIGTERM",
		set: func(c *Config, v string) error { return setDuration(&c.ShutdownTimeout, v) }},
	{Name: "max-body-bytes", Default: "1048576", Usage: "largest request body accepted (413 above it)",
		set: func(c *Config, v string) error {
			var n int
			if err := setInt(&n, v, 1024, 1<<30); err != nil {
				return err
			}
			c.MaxBodyBytes = int64(n)
			return nil
		}},
	{Name: "tls-cert", Usage: "PEM certificate file; with --tls-key, serve HTTPS",
		set: func(c *Config, v string) error { c.TLSCert = v; return nil }},
	{Name: "tls-key", Secret: true, Usage: "PEM private key file for --tls-cert",
		set: func(c *Config, v string) error { c.TLSKey = v; return nil }},
	{Name: "public-url", Usage: "the URL clients reach this server at (the token issuer); default http(s)://<listen>",
		set: func(c *Config, v string) error {
			if v != "" && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
				return errors.New("want http://… or https://…")
			}
			c.PublicURL = strings.TrimRight(v, "/")
			return nil
		}},
	{Name: "demo", Bool: true, Default: "false", Usage: "seed a demo company on first start and print ready client credentials",
		set: func(c *Config, v string) error { return setBool(&c.Demo, v) }},
	{Name: "tls-self-signed", Bool: true, Default: "false", Usage: "serve HTTPS with a self-signed certificate kept in the data directory (development only)",
		set: func(c *Config, v string) error { return setBool(&c.TLSSelfSigned, v) }},
	{Name: "trust-issuer", Multi: true, Usage: "accept access tokens from this outside identity provider (its issuer URL); subjects need a mapping at /v1/trusted-issuers",
		set: func(c *Config, v string) error {
			for _, u := range strings.Split(v, ",") {
				if u = strings.TrimSpace(u); u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
					return fmt.Errorf("%q is not an issuer URL", u)
				}
			}
			c.TrustIssuers = v
			return nil
		}},
	{Name: "master-key", Secret: true, Usage: "base64 of the 32-byte master key that wraps data keys and signs audit checkpoints (prefer the file or the environment over a flag)",
		set: func(c *Config, v string) error { c.MasterKey = v; return nil }},
	{Name: "master-key-file", Usage: "file holding the master key; without either, SQLite keeps one in <data-dir>/master.key and PostgreSQL refuses to start",
		set: func(c *Config, v string) error { c.MasterKeyFile = v; return nil }},
	{Name: "audit-retention", Default: "0s", Usage: "delete audit rows older than this, daily, keeping a verifiable chain (e.g. 87600h for ten years); 0 keeps everything",
		set: func(c *Config, v string) error { return setDuration(&c.AuditRetention, v) }},
	{Name: "redis-url", Secret: true, Usage: "redis://… to share rate-limit counters between nodes; empty: counters in this process",
		set: func(c *Config, v string) error {
			if v != "" && !strings.HasPrefix(v, "redis://") && !strings.HasPrefix(v, "rediss://") {
				return errors.New("want redis://… or rediss://…")
			}
			c.RedisURL = v
			return nil
		}},
	{Name: "redis-fail-closed", Bool: true, Default: "false", Usage: "answer 503 while Redis is unreachable instead of letting requests through unlimited",
		set: func(c *Config, v string) error { return setBool(&c.RedisFailClosed, v) }},
	quotaOption(ratelimit.ClassRead, ratelimit.DefaultRead, "reads (GET) per client", func(c *Config) *ratelimit.Quota { return &c.RateLimits.Read }),
	quotaOption(ratelimit.ClassWrite, ratelimit.DefaultWrite, "writes per client", func(c *Config) *ratelimit.Quota { return &c.RateLimits.Write }),
	quotaOption(ratelimit.ClassHeavy, ratelimit.DefaultHeavy, "heavy requests (batches, reports) per client", func(c *Config) *ratelimit.Quota { return &c.RateLimits.Heavy }),
	quotaOption(ratelimit.ClassToken, ratelimit.DefaultToken, "token requests per client id", func(c *Config) *ratelimit.Quota { return &c.RateLimits.Token }),
	quotaOption(ratelimit.ClassTokenAddress, ratelimit.DefaultTokenAddress, "token requests per source address", func(c *Config) *ratelimit.Quota { return &c.RateLimits.TokenAddress }),
	{Name: "webhooks-allow-loopback", Bool: true, Default: "false", Usage: "development only: let webhook endpoints use plain http to, and connect to, loopback addresses (every other private range stays refused)",
		set: func(c *Config, v string) error { return setBool(&c.WebhooksAllowLoopback, v) }},
	{Name: "webhook-timeout", Default: "15s", Usage: "how long a webhook receiver has to answer (connecting: at most 5s of it)",
		set: func(c *Config, v string) error { return setDuration(&c.WebhookTimeout, v) }},
	{Name: "webhook-lease", Default: "2m", Usage: "how long a node holds a claimed webhook delivery; a crashed node's deliveries are sent again after it (keep it above webhook-timeout)",
		set: func(c *Config, v string) error { return setDuration(&c.WebhookLease, v) }},
	{Name: "events-poll", Default: "1s", Usage: "how often webhook delivery and event streams look for events committed on other nodes and for retries coming due",
		set: func(c *Config, v string) error { return setDuration(&c.EventsPoll, v) }},
	{Name: "sse-heartbeat", Default: "15s", Usage: "interval of keep-alive comments on idle event streams",
		set: func(c *Config, v string) error { return setDuration(&c.SSEHeartbeat, v) }},
	{Name: "insecure-http", Bool: true, Default: "false", Usage: "allow plain HTTP on a non-loopback address (behind a TLS-terminating proxy)",
		set: func(c *Config, v string) error { return setBool(&c.InsecureHTTP, v) }},
}

// quotaOption is the option for one rate-limit class: LIMIT/WINDOW[:BURST]
// or off.
func quotaOption(class string, def ratelimit.Quota, what string, field func(*Config) *ratelimit.Quota) Option {
	return Option{Name: "rate-limit-" + class, Default: def.String(), Usage: what + ": LIMIT/WINDOW[:BURST] (e.g. 600/1m) or off",
		set: func(c *Config, v string) error {
			q, err := ratelimit.ParseQuota(v)
			if err != nil {
				return err
			}
			*field(c) = q
			return nil
		}}
}

// Load reads the configuration: defaults, then the file named by --config
// or MAINSTAY_CONFIG, then the environment, then flags. Every error names
// the option and where its value came from.
// Arguments left after the flags are returned for the command to check.
func Load(name string, args []string, getenv func(string) string, usage io.Writer) (Config, []string, error) {
	return LoadWith(name, args, getenv, usage, nil)
}

// LoadWith is Load for commands with flags of their own, which extra
// defines on the same flag set.
func LoadWith(name string, args []string, getenv func(string) string, usage io.Writer, extra func(*flag.FlagSet)) (Config, []string, error) {
	var c Config
	values := map[string]string{}
	source := map[string]string{}
	for _, o := range Options {
		values[o.Name], source[o.Name] = o.Default, "default"
	}

	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usage)
	if extra != nil {
		extra(fs)
	}
	flagged := map[string]*string{}
	bools := map[string]*bool{}
	for _, o := range Options {
		help := fmt.Sprintf("%s (env %s)", o.Usage, o.Env())
		if o.Bool {
			bools[o.Name] = fs.Bool(o.Name, false, help)
		} else if o.Multi {
			v := new(string)
			flagged[o.Name] = v
			fs.Func(o.Name, help+" (repeatable)", func(s string) error {
				if *v != "" {
					*v += ","
				}
				*v += s
				return nil
			})
		} else {
			flagged[o.Name] = fs.String(o.Name, o.Default, help)
		}
	}
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	setByFlag := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { setByFlag[f.Name] = true })

	file := getenv("MAINSTAY_CONFIG")
	if setByFlag["config"] {
		file = *flagged["config"]
	}
	if file != "" {
		fileVals, err := readFile(file)
		if err != nil {
			return c, nil, err
		}
		for _, o := range Options {
			if v, ok := fileVals[o.Env()]; ok {
				values[o.Name], source[o.Name] = v, file
				delete(fileVals, o.Env())
			}
		}
		for k := range fileVals {
			return c, nil, fmt.Errorf("config file %s: unknown setting %s", file, k)
		}
	}
	for _, o := range Options {
		if v, ok := lookup(getenv, o.Env()); ok {
			values[o.Name], source[o.Name] = v, o.Env()
		}
		if setByFlag[o.Name] {
			source[o.Name] = "--" + o.Name
			if o.Bool {
				values[o.Name] = strconv.FormatBool(*bools[o.Name])
			} else {
				values[o.Name] = *flagged[o.Name]
			}
		}
	}
	for _, o := range Options {
		if err := o.set(&c, values[o.Name]); err != nil {
			shown := values[o.Name]
			if o.Secret {
				shown = "(hidden)"
			}
			return c, nil, fmt.Errorf("invalid %s %q (from %s): %v", o.Name, shown, source[o.Name], err)
		}
	}
	if c.PublicURL == "" {
		scheme := "http"
		if c.TLSCert != "" || c.TLSSelfSigned {
			scheme = "https"
		}
		c.PublicURL = scheme + "://" + c.Listen
	}
	return c, fs.Args(), c.validate()
}

func (c Config) validate() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("tls-cert and tls-key go together")
	}
	if c.TLSSelfSigned && c.TLSCert != "" {
		return errors.New("give tls-cert and tls-key, or tls-self-signed, not both")
	}
	if c.TLSCert == "" && !c.TLSSelfSigned && !c.InsecureHTTP && !IsLoopback(c.Listen) {
		return fmt.Errorf("refusing plain HTTP on %s: give --tls-cert and --tls-key (or --tls-self-signed), or --insecure-http behind a TLS-terminating proxy", c.Listen)
	}
	return nil
}

// IsLoopback reports whether a host:port listens on loopback only.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// lookup treats an empty variable as unset, as shells make that easy.
func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

func readFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("config file %s:%d: want KEY=VALUE", path, n)
		}
		out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return out, nil
}

func setInt(dst *int, v string, lo, hi int) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return errors.New("want a whole number")
	}
	if n < lo || n > hi {
		return fmt.Errorf("want %d to %d", lo, hi)
	}
	*dst = n
	return nil
}

func setDuration(dst *time.Duration, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return errors.New("want a duration such as 30s")
	}
	*dst = d
	return nil
}

func setBool(dst *bool, v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true or false")
	}
	*dst = b
	return nil
}

// Table renders the options as a Markdown table for the README.
func Table() string {
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n|---|---|---|---|\n")
	for _, o := range Options {
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", o.Name, o.Env(), code(o.Default), o.Usage)
	}
	return b.String()
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}
