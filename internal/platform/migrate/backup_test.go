package migrate

import (
	"context"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

func TestSQLiteCopiedBeforeMigrating(t *testing.T) {
	v1 := &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE a (x INTEGER);\n")}
	v2 := &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE b (x INTEGER);\n")}
	ctx := context.Background()
	d, err := db.Open(ctx, db.Options{URL: "sqlite:" + filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	first, err := up(ctx, d, fstest.MapFS{"0001_a.sql": v1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Backup != "" {
		t.Fatalf("a new database was copied: %s", first.Backup)
	}
	if _, err := d.ExecContext(ctx, "INSERT INTO a VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	second, err := up(ctx, d, fstest.MapFS{"0001_a.sql": v1, "0002_b.sql": v2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.From != 1 || second.To != 2 || second.Backup == "" {
		t.Fatalf("second Up = %+v, want 1 → 2 with a backup", second)
	}
	b, err := db.Open(ctx, db.Options{URL: "sqlite:" + second.Backup})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	v, err := Current(ctx, b)
	if err != nil || v != 1 {
		t.Fatalf("backup at version %d (%v), want 1", v, err)
	}
	var x int
	if err := b.QueryRowContext(ctx, "SELECT x FROM a").Scan(&x); err != nil || x != 42 {
		t.Fatalf("backup lost data: %d, %v", x, err)
	}
}
