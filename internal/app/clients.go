package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/migrate"
)

const clientsUsage = `Usage:
  mainstay clients create --name NAME --roles ROLE[,ROLE] [--companies ID[,ID]] [--public-key FILE [--no-secret]] [--json]
  mainstay clients list [--json]
  mainstay clients revoke CLIENT_ID
  mainstay clients rotate-secret CLIENT_ID [--overlap 24h]

Roles: %s.
A client without --companies works in every company.
`

// clientsCmd manages machine clients. The secret is printed once, at
// creation; only its hash is kept.
func clientsCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintf(stderr, clientsUsage, strings.Join(auth.RoleNames(), ", "))
		return ErrUsage
	}
	sub := args[0]
	var name, roles, companies, publicKey string
	var asJSON, noSecret bool
	var overlap time.Duration
	cfg, rest, log, err := loadWith("clients "+sub, args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		if sub == "create" {
			fs.StringVar(&name, "name", "", "a name for the client (which system uses it)")
			fs.StringVar(&roles, "roles", "", "comma-separated roles: "+strings.Join(auth.RoleNames(), ", "))
			fs.StringVar(&companies, "companies", "", "comma-separated company ids; empty means every company")
			fs.StringVar(&publicKey, "public-key", "", "file with an Ed25519 or P-256 public key (PEM or JWK) for private_key_jwt")
			fs.BoolVar(&noSecret, "no-secret", false, "authenticate with the key only")
		}
		if sub == "rotate-secret" {
			fs.DurationVar(&overlap, "overlap", 24*time.Hour, "how long the old secret keeps working")
		}
	})
	if err != nil {
		return err
	}
	d, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, log); err != nil {
		return err
	}
	switch sub {
	case "create":
		if len(rest) > 0 {
			return fmt.Errorf("clients create: unexpected argument %q", rest[0])
		}
		ids := splitList(companies)
		for _, c := range ids {
			var found string
			if err := d.QueryRowContext(ctx, "SELECT id FROM companies WHERE id = $1", c).Scan(&found); err != nil {
				return fmt.Errorf("clients create: no company %q", c)
			}
		}
		var key []byte
		if publicKey != "" {
			if key, err = os.ReadFile(publicKey); err != nil {
				return fmt.Errorf("clients create: %w", err)
			}
		}
		c, secret, err := auth.CreateClient(ctx, d, auth.NewClient{Name: name, Roles: splitList(roles), Companies: ids, PublicKey: string(key), NoSecret: noSecret})
		if err != nil {
			return fmt.Errorf("clients create: %w", err)
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{"client_id": c.ID, "client_secret": secret, "roles": c.Roles, "companies": c.Companies})
		}
		fmt.Fprintf(stdout, "client_id:     %s\nclient_secret: %s\n\nThe secret is shown only now; store it safely.\n", c.ID, secret)
		return nil
	case "list":
		list, err := auth.ListClients(ctx, d)
		if err != nil {
			return err
		}
		if asJSON {
			type row struct {
				ClientID  string     `json:"client_id"`
				Name      string     `json:"name"`
				Roles     []string   `json:"roles"`
				Companies []string   `json:"companies"`
				CreatedAt time.Time  `json:"created_at"`
				RevokedAt *time.Time `json:"revoked_at,omitempty"`
			}
			rows := make([]row, len(list))
			for i, c := range list {
				rows[i] = row{c.ID, c.Name, c.Roles, c.Companies, c.CreatedAt, c.RevokedAt}
			}
			return json.NewEncoder(stdout).Encode(rows)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLES\tCOMPANIES\tCREATED\tREVOKED")
		for _, c := range list {
			revoked := ""
			if c.RevokedAt != nil {
				revoked = c.RevokedAt.Format(time.RFC3339)
			}
			comps := strings.Join(c.Companies, ",")
			if comps == "" {
				comps = "(all)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, strings.Join(c.Roles, ","), comps, c.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "rotate-secret":
		if len(rest) != 1 {
			return fmt.Errorf("clients rotate-secret: want one CLIENT_ID")
		}
		secret, err := auth.RotateSecret(ctx, d, rest[0], overlap)
		if err != nil {
			return fmt.Errorf("clients rotate-secret: %w", err)
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{"client_id": rest[0], "client_secret": secret, "previous_valid_for": overlap.String()})
		}
		fmt.Fprintf(stdout, "client_secret: %s\n\nThe old secret keeps working for %s. The new one is shown only now.\n", secret, overlap)
		return nil
	case "revoke":
		if len(rest) != 1 {
			return fmt.Errorf("clients revoke: want one CLIENT_ID")
		}
		if err := auth.RevokeClient(ctx, d, rest[0]); err != nil {
			return fmt.Errorf("clients revoke: %w", err)
		}
		fmt.Fprintf(stdout, "Revoked %s; its tokens stop working within seconds.\n", rest[0])
		return nil
	}
	fmt.Fprintf(stderr, "mainstay clients: unknown subcommand %q\n\n"+clientsUsage, sub, strings.Join(auth.RoleNames(), ", "))
	return ErrUsage
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
