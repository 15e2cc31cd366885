package apidocs

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readSample(t *testing.T) []byte {
	t.Helper()
	spec, err := os.ReadFile(filepath.Join("testdata", "sample-openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func schemaAt(t *testing.T, spec []byte, name string) map[string]any {
	t.Helper()
	var doc struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatalf("mutated spec is not JSON: %v", err)
	}
	return doc.Components.Schemas[name]
}

func TestRemoveResponsePropertyFollowsRef(t *testing.T) {
	spec := readSample(t)

	once, r1, err := RemoveResponseProperty(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := Removal{
		Method: "GET", Path: "/v1/items/{id}", Status: "200", MediaType: "application/json",
		Schema: "#/components/schemas/Item", Property: "barcode", Required: false,
	}
	if r1 != want {
		t.Errorf("first removal = %+v, want %+v", r1, want)
	}
	item := schemaAt(t, once, "Item")
	props := item["properties"].(map[string]any)
	if _, ok := props["barcode"]; ok || len(props) != 5 {
		t.Errorf("properties after removal = %v, want the other five", props)
	}

	twice, r2, err := RemoveResponseProperty(once)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Property != "createdAt" || !r2.Required {
		t.Errorf("second removal = %+v, want required createdAt", r2)
	}
	req := schemaAt(t, twice, "Item")["required"].([]any)
	if slices.Contains(req, any("createdAt")) || len(req) != 4 {
		t.Errorf("required after removal = %v", req)
	}

	// The input is left alone: the caller compares it with the result.
	if !bytes.Equal(spec, readSample(t)) {
		t.Error("input spec was modified")
	}
}

func TestRemoveResponsePropertyCases(t *testing.T) {
	cases := []struct {
		name    string
		spec    string
		want    Removal
		wantErr bool
		keep    string // must survive the round trip verbatim
	}{
		{
			name: "inline array items, skips errors and earlier methods without 2xx",
			spec: `{"openapi":"3.1.0","paths":{"/a":{
				"get":{"responses":{"404":{"content":{"application/json":{"schema":{"type":"object","properties":{"x":{}}}}}}}},
				"post":{"responses":{"201":{"content":{"application/json":{"schema":{"type":"array","items":{"type":"object","properties":{"b":{"maximum":9007199254740993},"a":{}}}}}}}}}}}}`,
			want: Removal{Method: "POST", Path: "/a", Status: "201", MediaType: "application/json",
				Schema: "#/paths/~1a/post/responses/201/content/application~1json/schema/items", Property: "a"},
			keep: "9007199254740993",
		},
		{
			name: "response and schema both by reference",
			spec: `{"openapi":"3.1.0","paths":{"/b":{"get":{"responses":{"2XX":{"$ref":"#/components/responses/Ok"}}}}},
				"components":{"responses":{"Ok":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/Alias"}}}}},
				"schemas":{"Alias":{"$ref":"#/components/schemas/Thing"},"Thing":{"type":"object","description":"a < b & c","required":["only"],"properties":{"only":{}}}}}}`,
			want: Removal{Method: "GET", Path: "/b", Status: "2XX", MediaType: "application/json",
				Schema: "#/components/schemas/Thing", Property: "only", Required: true},
			keep: "a < b & c",
		},
		{
			name:    "no success response with properties",
			spec:    `{"openapi":"3.1.0","paths":{"/c":{"get":{"responses":{"204":{"description":"none"},"400":{"content":{"application/json":{"schema":{"properties":{"x":{}}}}}}}}}}}`,
			wantErr: true,
		},
		{
			name:    "reference cycle",
			spec:    `{"openapi":"3.1.0","paths":{"/d":{"get":{"responses":{"200":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/A"}}}}}}}},"components":{"schemas":{"A":{"$ref":"#/components/schemas/A"}}}}`,
			wantErr: true,
		},
		{name: "not JSON", spec: `{`, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, got, err := RemoveResponseProperty([]byte(tc.spec))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, removed %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("removal = %+v\nwant      %+v", got, tc.want)
			}
			if !json.Valid(out) {
				t.Fatalf("output is not JSON: %s", out)
			}
			if !bytes.Contains(out, []byte(tc.keep)) {
				t.Errorf("output lost %q: %s", tc.keep, out)
			}
			if tc.want.Required && bytes.Contains(out, []byte(`"required"`)) {
				t.Errorf("emptied required list left behind: %s", out)
			}
		})
	}
}

// oasdiffArgs is the comparison .ci/openapi-breaking.sh makes; keep the two
// in step.
func oasdiffArgs(base, revision string) []string {
	return []string{
		"breaking", base, revision,
		"--fail-on", "ERR",
		"--severity-levels", "oasdiff-levels.txt",
		"--allow-external-refs=false",
		"--color", "never",
	}
}

// findOasdiff looks where .ci/openapi-breaking.sh installs the tool. Outside
// CI a missing tool skips; in CI it fails, so the check cannot silently stop
// running.
func findOasdiff(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MAINSTAY_OASDIFF"); p != "" {
		return p
	}
	if root, err := moduleRoot(); err == nil {
		p := filepath.Join(root, ".ci", "bin", "oasdiff")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("oasdiff"); err == nil {
		return p
	}
	const msg = "oasdiff not found in $MAINSTAY_OASDIFF, .ci/bin or PATH; run `bash .ci/openapi-breaking.sh` once to install it"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
}

// runOasdiff returns the exit code and combined output of a comparison.
func runOasdiff(t *testing.T, bin string, base, revision []byte) (int, string) {
	t.Helper()
	dir := t.TempDir()
	b, r := filepath.Join(dir, "base.json"), filepath.Join(dir, "revision.json")
	if err := os.WriteFile(b, base, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r, revision, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, oasdiffArgs(b, r)...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	default:
		t.Fatalf("running %s: %v", bin, err)
		return 0, ""
	}
}

func TestRemovingAResponseFieldIsBreaking(t *testing.T) {
	bin := findOasdiff(t)
	spec := readSample(t)

	// Without this the test below could pass because oasdiff failed to load
	// the spec or the levels file (exit codes above 100), not because it
	// found a breaking change (exit 1).
	if code, out := runOasdiff(t, bin, spec, spec); code != 0 {
		t.Fatalf("sample against itself: exit %d, want 0\n%s", code, out)
	}

	// barcode is optional: oasdiff rates that removal INFO unless
	// oasdiff-levels.txt raises it, so this case proves the levels file is
	// in effect. createdAt is required: an ERR by default.
	base := spec
	for _, want := range []string{"barcode", "createdAt"} {
		mutated, removal, err := RemoveResponseProperty(base)
		if err != nil {
			t.Fatal(err)
		}
		if removal.Property != want {
			t.Fatalf("removed %q, want %q", removal.Property, want)
		}
		code, out := runOasdiff(t, bin, base, mutated)
		if code != 1 {
			t.Errorf("%s: oasdiff exit %d, want 1 (breaking change found)\n%s", removal, code, out)
		}
		if !strings.Contains(out, removal.Property) {
			t.Errorf("%s: oasdiff output does not mention %q:\n%s", removal, removal.Property, out)
		}
		base = mutated
	}
}
