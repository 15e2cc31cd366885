package config

import (
	"bytes"
	"errors"
	"flag"
	"github.com/mainstay-erp/mainstay/internal/platform/ratelimit"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// env stands in for os.Getenv so tests never see the machine's MAINSTAY_*
// variables.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mainstay.conf")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func load(args []string, vars map[string]string) (Config, []string, error) {
	return Load("serve", args, env(vars), io.Discard)
}

var defaultLimits = RateLimits{Read: ratelimit.DefaultRead, Write: ratelimit.DefaultWrite, Heavy: ratelimit.DefaultHeavy,
	Token: ratelimit.DefaultToken, TokenAddress: ratelimit.DefaultTokenAddress}

func TestLoadDefaults(t *testing.T) {
	c, rest, err := load(nil, nil)
	if err != nil {
		t.Fatalf("Load with nothing set: %v", err)
	}
	want := Config{
		Listen:          "127.0.0.1:8080",
		DataDir:         "./mainstay-data",
		DBMaxConns:      10,
		LogLevel:        slog.LevelInfo,
		LogFormat:       "json",
		ShutdownTimeout: 30 * time.Second,
		MaxBodyBytes:    1 << 20,
		PublicURL:       "http://127.0.0.1:8080", // derived from the listen address
		RateLimits:      defaultLimits,
		WebhookTimeout:  15 * time.Second,
		WebhookLease:    2 * time.Minute,
		EventsPoll:      time.Second,
		SSEHeartbeat:    15 * time.Second,
	}
	if c != want {
		t.Errorf("Load defaults =\n%+v\nwant\n%+v", c, want)
	}
	if len(rest) != 0 {
		t.Errorf("rest = %q, want none", rest)
	}
}

func TestLoadPrecedence(t *testing.T) {
	file := writeFile(t, "MAINSTAY_LISTEN=127.0.0.1:1001\nMAINSTAY_LOG_LEVEL=warn\n")
	for _, tt := range []struct {
		name      string
		args      []string
		vars      map[string]string
		wantAddr  string
		wantLevel slog.Level
	}{
		{
			name:     "default without file, environment or flag",
			wantAddr: "127.0.0.1:8080", wantLevel: slog.LevelInfo,
		},
		{
			name:     "file beats default",
			args:     []string{"--config", file},
			wantAddr: "127.0.0.1:1001", wantLevel: slog.LevelWarn,
		},
		{
			name:     "environment beats file",
			args:     []string{"--config", file},
			vars:     map[string]string{"MAINSTAY_LISTEN": "127.0.0.1:2002", "MAINSTAY_LOG_LEVEL": "error"},
			wantAddr: "127.0.0.1:2002", wantLevel: slog.LevelError,
		},
		{
			name:     "flag beats environment and file",
			args:     []string{"--config", file, "--listen", "127.0.0.1:3003", "--log-level", "debug"},
			vars:     map[string]string{"MAINSTAY_LISTEN": "127.0.0.1:2002", "MAINSTAY_LOG_LEVEL": "error"},
			wantAddr: "127.0.0.1:3003", wantLevel: slog.LevelDebug,
		},
		{
			name:     "flag beats environment",
			args:     []string{"--listen", "127.0.0.1:3003", "--log-level", "debug"},
			vars:     map[string]string{"MAINSTAY_LISTEN": "127.0.0.1:2002", "MAINSTAY_LOG_LEVEL": "error"},
			wantAddr: "127.0.0.1:3003", wantLevel: slog.LevelDebug,
		},
		{
			// A flag repeating the default is still an explicit choice.
			name:     "flag equal to the default still beats environment",
			args:     []string{"--listen", "127.0.0.1:8080", "--log-level", "info"},
			vars:     map[string]string{"MAINSTAY_LISTEN": "127.0.0.1:2002", "MAINSTAY_LOG_LEVEL": "error"},
			wantAddr: "127.0.0.1:8080", wantLevel: slog.LevelInfo,
		},
		{
			name:     "environment beats default",
			vars:     map[string]string{"MAINSTAY_LISTEN": "127.0.0.1:2002", "MAINSTAY_LOG_LEVEL": "error"},
			wantAddr: "127.0.0.1:2002", wantLevel: slog.LevelError,
		},
		{
			name:     "empty environment variable leaves the file value",
			args:     []string{"--config", file},
			vars:     map[string]string{"MAINSTAY_LISTEN": "", "MAINSTAY_LOG_LEVEL": ""},
			wantAddr: "127.0.0.1:1001", wantLevel: slog.LevelWarn,
		},
		{
			name:     "one option from each source",
			args:     []string{"--config", file, "--log-level", "debug"},
			vars:     map[string]string{"MAINSTAY_LISTEN": "127.0.0.1:2002"},
			wantAddr: "127.0.0.1:2002", wantLevel: slog.LevelDebug,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := load(tt.args, tt.vars)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Listen != tt.wantAddr || c.LogLevel != tt.wantLevel {
				t.Errorf("listen %q, log-level %v; want %q, %v", c.Listen, c.LogLevel, tt.wantAddr, tt.wantLevel)
			}
		})
	}
}

func TestLoadChoosesConfigFile(t *testing.T) {
	fromFlag := writeFile(t, "MAINSTAY_LISTEN=127.0.0.1:1111\n")
	fromEnv := writeFile(t, "MAINSTAY_LISTEN=127.0.0.1:2222\n")
	for _, tt := range []struct {
		name     string
		args     []string
		vars     map[string]string
		wantFile string
		wantAddr string
	}{
		{"MAINSTAY_CONFIG names the file", nil, map[string]string{"MAINSTAY_CONFIG": fromEnv}, fromEnv, "127.0.0.1:2222"},
		{"--config names the file", []string{"--config", fromFlag}, nil, fromFlag, "127.0.0.1:1111"},
		{"--config beats MAINSTAY_CONFIG", []string{"--config", fromFlag}, map[string]string{"MAINSTAY_CONFIG": fromEnv}, fromFlag, "127.0.0.1:1111"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := load(tt.args, tt.vars)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.ConfigFile != tt.wantFile || c.Listen != tt.wantAddr {
				t.Errorf("ConfigFile %q, Listen %q; want %q, %q", c.ConfigFile, c.Listen, tt.wantFile, tt.wantAddr)
			}
		})
	}
}

func TestLoadFileSyntax(t *testing.T) {
	file := writeFile(t, strings.Join([]string{
		"# Mainstay configuration",
		"",
		"   # an indented comment",
		"MAINSTAY_LISTEN = 127.0.0.1:9090  ",
		"\tMAINSTAY_LOG_FORMAT=text",
		`MAINSTAY_DATA_DIR="/var/lib/mainstay"`,
		// Only the first = splits, so URLs with query parameters survive.
		"MAINSTAY_DATABASE_URL=postgres://app@db/erp?sslmode=require&application_name=x",
		"MAINSTAY_DB_MAX_CONNS=25",
		"MAINSTAY_SHUTDOWN_TIMEOUT=5s",
		"MAINSTAY_MAX_BODY_BYTES=2048",
		"   ",
	}, "\n"))
	c, _, err := load([]string{"--config", file}, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Config{
		ConfigFile:      file,
		Listen:          "127.0.0.1:9090",
		DataDir:         "/var/lib/mainstay",
		DatabaseURL:     "postgres://app@db/erp?sslmode=require&application_name=x",
		DBMaxConns:      25,
		LogLevel:        slog.LevelInfo,
		LogFormat:       "text",
		ShutdownTimeout: 5 * time.Second,
		MaxBodyBytes:    2048,
		PublicURL:       "http://127.0.0.1:9090",
		RateLimits:      defaultLimits,
		WebhookTimeout:  15 * time.Second,
		WebhookLease:    2 * time.Minute,
		EventsPoll:      time.Second,
		SSEHeartbeat:    15 * time.Second,
	}
	if c != want {
		t.Errorf("Load from file =\n%+v\nwant\n%+v", c, want)
	}
}

func TestLoadEveryOptionBySource(t *testing.T) {
	values := map[string]string{
		"listen":           "127.0.0.1:7000",
		"data-dir":         "/srv/data",
		"database-url":     "postgresql://u@h/db",
		"db-max-conns":     "3",
		"log-level":        "debug",
		"log-format":       "text",
		"shutdown-timeout": "1m",
		"max-body-bytes":   "4096",
		"tls-cert":         "/etc/cert.pem",
		"tls-key":          "/etc/key.pem",
		"insecure-http":    "true",
	}
	want := Config{
		Listen:          "127.0.0.1:7000",
		DataDir:         "/srv/data",
		DatabaseURL:     "postgresql://u@h/db",
		DBMaxConns:      3,
		LogLevel:        slog.LevelDebug,
		LogFormat:       "text",
		ShutdownTimeout: time.Minute,
		MaxBodyBytes:    4096,
		TLSCert:         "/etc/cert.pem",
		TLSKey:          "/etc/key.pem",
		InsecureHTTP:    true,
		PublicURL:       "https://erp.example.com",
		Demo:            true,
		RateLimits:      defaultLimits,
		WebhookTimeout:  15 * time.Second,
		WebhookLease:    2 * time.Minute,
		EventsPoll:      time.Second,
		SSEHeartbeat:    15 * time.Second,
	}
	values["public-url"] = "https://erp.example.com/"
	values["demo"] = "true"
	var args, lines []string
	vars := map[string]string{}
	for _, o := range Options {
		v, ok := values[o.Name]
		if !ok {
			continue
		}
		args = append(args, "--"+o.Name+"="+v)
		vars[o.Env()] = v
		lines = append(lines, o.Env()+"="+v)
	}
	file := writeFile(t, strings.Join(lines, "\n"))

	t.Run("flags", func(t *testing.T) {
		c, _, err := load(args, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c != want {
			t.Errorf("got\n%+v\nwant\n%+v", c, want)
		}
	})
	t.Run("environment", func(t *testing.T) {
		c, _, err := load(nil, vars)
		if err != nil {
			t.Fatal(err)
		}
		if c != want {
			t.Errorf("got\n%+v\nwant\n%+v", c, want)
		}
	})
	t.Run("file", func(t *testing.T) {
		c, _, err := load([]string{"--config", file}, nil)
		if err != nil {
			t.Fatal(err)
		}
		w := want
		w.ConfigFile = file
		if c != w {
			t.Errorf("got\n%+v\nwant\n%+v", c, w)
		}
	})
}

func TestLoadInvalidValue(t *testing.T) {
	type source int
	const (
		fromFlag source = iota
		fromEnv
		fromFile
	)
	for _, tt := range []struct {
		name   string
		option string
		value  string
		from   source
	}{
		{"listen without port", "listen", "nonsense", fromFlag},
		{"listen without port", "listen", "nonsense", fromEnv},
		{"listen without port", "listen", "nonsense", fromFile},
		{"unknown log level", "log-level", "loud", fromFlag},
		{"unknown log level", "log-level", "loud", fromEnv},
		{"unknown log level", "log-level", "loud", fromFile},
		{"zero connections", "db-max-conns", "0", fromFlag},
		{"zero connections", "db-max-conns", "0", fromEnv},
		{"too many connections", "db-max-conns", "1001", fromFile},
		{"connections not a number", "db-max-conns", "x", fromFlag},
		{"connections not a number", "db-max-conns", "x", fromFile},
		{"negative shutdown timeout", "shutdown-timeout", "-1s", fromFlag},
		{"negative shutdown timeout", "shutdown-timeout", "-1s", fromEnv},
		{"shutdown timeout without unit", "shutdown-timeout", "30", fromFile},
		{"unknown log format", "log-format", "xml", fromEnv},
		{"body limit below 1 KiB", "max-body-bytes", "1023", fromFlag},
		{"body limit above 1 GiB", "max-body-bytes", "1073741825", fromEnv},
		{"empty data dir", "data-dir", "", fromFlag},
		{"not a boolean", "insecure-http", "maybe", fromEnv},
		{"not a boolean", "insecure-http", "maybe", fromFile},
		{"unsupported database", "database-url", "mysql://x", fromFlag},
		{"unsupported database", "database-url", "mysql://x", fromEnv},
		{"unsupported database", "database-url", "mysql://x", fromFile},
	} {
		var o Option
		for _, opt := range Options {
			if opt.Name == tt.option {
				o = opt
			}
		}
		label := [...]string{"flag", "env", "file"}[tt.from]
		t.Run(tt.name+" from "+label, func(t *testing.T) {
			var args []string
			vars := map[string]string{}
			var where string
			switch tt.from {
			case fromFlag:
				args, where = []string{"--" + o.Name + "=" + tt.value}, "--"+o.Name
			case fromEnv:
				vars[o.Env()], where = tt.value, o.Env()
			case fromFile:
				where = writeFile(t, "# settings\n"+o.Env()+"="+tt.value+"\n")
				args = []string{"--config", where}
			}
			_, _, err := load(args, vars)
			if err == nil {
				t.Fatalf("Load accepted %s %q from %s", o.Name, tt.value, where)
			}
			msg := err.Error()
			if !strings.Contains(msg, o.Name) {
				t.Errorf("error %q does not name the option %s", msg, o.Name)
			}
			if !strings.Contains(msg, "(from "+where+")") {
				t.Errorf("error %q does not say the value came from %s", msg, where)
			}
			if !o.Secret && tt.value != "" && !strings.Contains(msg, `"`+tt.value+`"`) {
				t.Errorf("error %q does not quote the value %q", msg, tt.value)
			}
		})
	}
}

// Database URLs carry passwords, and configuration errors end up in logs
// and terminals.
func TestLoadInvalidSecretIsNotShown(t *testing.T) {
	const url = "mysql://admin:hunter2@db.internal/erp"
	for _, tt := range []struct {
		name string
		args func(t *testing.T) []string
		vars map[string]string
	}{
		{"from flag", func(*testing.T) []string { return []string{"--database-url", url} }, nil},
		{"from environment", func(*testing.T) []string { return nil }, map[string]string{"MAINSTAY_DATABASE_URL": url}},
		{"from file", func(t *testing.T) []string {
			return []string{"--config", writeFile(t, "MAINSTAY_DATABASE_URL="+url+"\n")}
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(tt.args(t), tt.vars)
			if err == nil {
				t.Fatal("Load accepted a mysql:// database URL")
			}
			if !strings.Contains(err.Error(), "database-url") {
				t.Errorf("error %q does not name database-url", err)
			}
			for _, part := range []string{"hunter2", "admin", "db.internal", url} {
				if strings.Contains(err.Error(), part) {
					t.Errorf("error %q shows %q from the secret value", err, part)
				}
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	t.Run("unknown key names the key and the file", func(t *testing.T) {
		file := writeFile(t, "MAINSTAY_LISTEN=127.0.0.1:1\nMAINSTAY_LISTEN_PORT=80\n")
		_, _, err := load([]string{"--config", file}, nil)
		if err == nil {
			t.Fatal("Load accepted an unknown key")
		}
		if !strings.Contains(err.Error(), "MAINSTAY_LISTEN_PORT") || !strings.Contains(err.Error(), file) {
			t.Errorf("error %q should name MAINSTAY_LISTEN_PORT and %s", err, file)
		}
	})
	t.Run("flag name instead of environment name is unknown", func(t *testing.T) {
		file := writeFile(t, "listen=127.0.0.1:1\n")
		if _, _, err := load([]string{"--config", file}, nil); err == nil || !strings.Contains(err.Error(), "listen") {
			t.Errorf("Load with key %q: error %v, want one naming the key", "listen", err)
		}
	})
	t.Run("line without = names the file and line number", func(t *testing.T) {
		file := writeFile(t, "# comment\n\nMAINSTAY_LISTEN=127.0.0.1:1\nMAINSTAY_LOG_LEVEL debug\n")
		_, _, err := load([]string{"--config", file}, nil)
		if err == nil {
			t.Fatal("Load accepted a line without =")
		}
		if !strings.Contains(err.Error(), file+":4") {
			t.Errorf("error %q should point at %s:4", err, file)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "absent.conf")
		_, _, err := load(nil, map[string]string{"MAINSTAY_CONFIG": missing})
		if err == nil {
			t.Fatal("Load accepted a config file that does not exist")
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("error %q does not wrap os.ErrNotExist", err)
		}
	})
}

func TestLoadPlainHTTP(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		vars    map[string]string
		wantErr string
	}{
		{"loopback needs no TLS", []string{"--listen", "127.0.0.1:8080"}, nil, ""},
		{"localhost needs no TLS", []string{"--listen", "localhost:8080"}, nil, ""},
		{"all interfaces refused", []string{"--listen", "0.0.0.0:8080"}, nil, "refusing plain HTTP on 0.0.0.0:8080"},
		{"empty host refused", []string{"--listen", ":8080"}, nil, "refusing plain HTTP"},
		{"private address refused", nil, map[string]string{"MAINSTAY_LISTEN": "10.0.0.1:8080"}, "refusing plain HTTP"},
		{"insecure-http flag", []string{"--listen", "0.0.0.0:8080", "--insecure-http"}, nil, ""},
		{"insecure-http environment", []string{"--listen", "0.0.0.0:8080"}, map[string]string{"MAINSTAY_INSECURE_HTTP": "true"}, ""},
		{"insecure-http=false flag beats environment", []string{"--listen", "0.0.0.0:8080", "--insecure-http=false"}, map[string]string{"MAINSTAY_INSECURE_HTTP": "true"}, "refusing plain HTTP"},
		{"tls-cert and tls-key", []string{"--listen", "0.0.0.0:8443", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, nil, ""},
		{"tls-cert without tls-key", []string{"--listen", "0.0.0.0:8443", "--tls-cert", "c.pem"}, nil, "tls-key"},
		{"tls-cert without tls-key even on loopback", []string{"--tls-cert", "c.pem"}, nil, "tls-key"},
		{"tls-key without tls-cert", []string{"--tls-key", "k.pem"}, nil, "tls-cert"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(tt.args, tt.vars)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Load: %v, want success", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Load succeeded, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Load: %q, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadBoolFlagAndLeftoverArgs(t *testing.T) {
	for _, tt := range []struct {
		name      string
		args      []string
		wantAllow bool
		wantRest  []string
	}{
		{"bool flag without value", []string{"--insecure-http"}, true, nil},
		{"bool flag with =true", []string{"--insecure-http=true"}, true, nil},
		{"bool flag with =false", []string{"--insecure-http=false"}, false, nil},
		{"single dash works too", []string{"-insecure-http"}, true, nil},
		// A bool flag never consumes the next word: "false" is left over
		// for the command to reject.
		{"bool flag does not take the next word", []string{"--insecure-http", "false"}, true, []string{"false"}},
		{"positional args after flags", []string{"--listen", "127.0.0.1:1", "backup.db", "extra"}, false, []string{"backup.db", "extra"}},
		{"flags after a positional arg are left over", []string{"backup.db", "--listen", "x"}, false, []string{"backup.db", "--listen", "x"}},
		{"double dash ends flags", []string{"--", "--insecure-http"}, false, []string{"--insecure-http"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, rest, err := load(tt.args, nil)
			if err != nil {
				t.Fatalf("Load(%q): %v", tt.args, err)
			}
			if c.InsecureHTTP != tt.wantAllow {
				t.Errorf("InsecureHTTP = %v, want %v", c.InsecureHTTP, tt.wantAllow)
			}
			if len(rest) != len(tt.wantRest) || (len(rest) > 0 && !reflect.DeepEqual(rest, tt.wantRest)) {
				t.Errorf("rest = %q, want %q", rest, tt.wantRest)
			}
		})
	}
}

// Commands such as serve add their own flags through LoadWith; a bool one
// must behave like the table's bool options and leave the rest untouched.
func TestLoadWithExtraBoolFlag(t *testing.T) {
	for _, tt := range []struct {
		name     string
		args     []string
		wantDemo bool
		wantRest []string
	}{
		{"--verbose without value", []string{"--verbose"}, true, nil},
		{"--verbose among table flags", []string{"--listen", "127.0.0.1:9", "--verbose", "--log-level", "debug", "extra"}, true, []string{"extra"}},
		{"--verbose=false", []string{"--demo=false"}, false, nil},
		{"absent", []string{"extra"}, false, []string{"extra"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var demo *bool
			c, rest, err := LoadWith("serve", tt.args, env(nil), io.Discard, func(fs *flag.FlagSet) {
				demo = fs.Bool("verbose", false, "say more")
			})
			if err != nil {
				t.Fatalf("LoadWith(%q): %v", tt.args, err)
			}
			if *demo != tt.wantDemo {
				t.Errorf("demo = %v, want %v", *demo, tt.wantDemo)
			}
			if len(rest) != len(tt.wantRest) || (len(rest) > 0 && !reflect.DeepEqual(rest, tt.wantRest)) {
				t.Errorf("rest = %q, want %q", rest, tt.wantRest)
			}
			if slices.Contains(tt.args, "--listen") && (c.Listen != "127.0.0.1:9" || c.LogLevel != slog.LevelDebug) {
				t.Errorf("table flags next to --demo: listen %q log-level %v, want 127.0.0.1:9 DEBUG", c.Listen, c.LogLevel)
			}
		})
	}
}

func TestLoadBadFlags(t *testing.T) {
	t.Run("unknown flag", func(t *testing.T) {
		var usage bytes.Buffer
		_, _, err := Load("serve", []string{"--no-such-flag"}, env(nil), &usage)
		if err == nil || !strings.Contains(err.Error(), "no-such-flag") {
			t.Errorf("Load(--no-such-flag) error %v, want one naming the flag", err)
		}
	})
	t.Run("flag without its value", func(t *testing.T) {
		if _, _, err := load([]string{"--listen"}, nil); err == nil {
			t.Error("Load(--listen) with no value succeeded")
		}
	})
	t.Run("help lists every option with its environment name", func(t *testing.T) {
		var usage bytes.Buffer
		_, _, err := Load("serve", []string{"-h"}, env(nil), &usage)
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("Load(-h) error %v, want flag.ErrHelp", err)
		}
		for _, o := range Options {
			if !strings.Contains(usage.String(), "-"+o.Name) || !strings.Contains(usage.String(), o.Env()) {
				t.Errorf("usage does not list -%s with %s:\n%s", o.Name, o.Env(), usage.String())
			}
		}
	})
}

func TestIsLoopback(t *testing.T) {
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:80", true},
		{"127.1.2.3:80", true},
		{"[::1]:80", true},
		{"localhost:80", true},
		{"0.0.0.0:80", false},
		{"10.0.0.1:80", false},
		{"[::]:80", false},
		{":8080", false},
		{"example.com:80", false},
		{"127.0.0.1", false},
		{"garbage", false},
		{"", false},
	} {
		t.Run(tt.addr, func(t *testing.T) {
			if got := IsLoopback(tt.addr); got != tt.want {
				t.Errorf("IsLoopback(%q) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestOptionEnv(t *testing.T) {
	for name, want := range map[string]string{
		"listen":        "MAINSTAY_LISTEN",
		"db-max-conns":  "MAINSTAY_DB_MAX_CONNS",
		"insecure-http": "MAINSTAY_INSECURE_HTTP",
	} {
		if got := (Option{Name: name}).Env(); got != want {
			t.Errorf("Option{Name: %q}.Env() = %q, want %q", name, got, want)
		}
	}
}

func TestOptionsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range Options {
		t.Run(o.Name, func(t *testing.T) {
			if o.Name == "" || seen[o.Name] {
				t.Errorf("option name %q is empty or used twice", o.Name)
			}
			seen[o.Name] = true
			if strings.TrimSpace(o.Usage) == "" {
				t.Errorf("option %s has no usage text", o.Name)
			}
			if o.set == nil {
				t.Errorf("option %s has no set function", o.Name)
			}
			if o.Name != strings.ToLower(o.Name) || strings.ContainsAny(o.Name, " _=") {
				t.Errorf("option name %q is not lower-case kebab case", o.Name)
			}
			// Table and --help print every default, secret or not.
			if o.Secret && o.Default != "" {
				t.Errorf("secret option %s has a default %q that --help and the README would print", o.Name, o.Default)
			}
		})
	}
}

func TestTable(t *testing.T) {
	table := Table()
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if len(lines) != len(Options)+2 {
		t.Fatalf("Table has %d lines, want a header, a rule and %d rows:\n%s", len(lines), len(Options), table)
	}
	if lines[0] != "| flag | environment | default | meaning |" {
		t.Errorf("header = %q", lines[0])
	}
	for i, o := range Options {
		row := lines[i+2]
		t.Run(o.Name, func(t *testing.T) {
			for _, want := range []string{"`--" + o.Name + "`", "`" + o.Env() + "`", o.Usage} {
				if !strings.Contains(row, want) {
					t.Errorf("row %q does not contain %q", row, want)
				}
			}
			if o.Default != "" && !strings.Contains(row, "`"+o.Default+"`") {
				t.Errorf("row %q does not show the default %q", row, o.Default)
			}
		})
	}
}

func TestRepeatableTrustIssuer(t *testing.T) {
	c, _, err := load([]string{"--trust-issuer", "https://idp.example.com", "--trust-issuer", "https://login.example.org/realm"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TrustedIssuers(); len(got) != 2 || got[1] != "https://login.example.org/realm" {
		t.Fatalf("issuers %v", got)
	}
	if _, _, err := load([]string{"--trust-issuer", "idp.example.com"}, nil); err == nil {
		t.Fatal("a bare host was accepted as an issuer")
	}
}
