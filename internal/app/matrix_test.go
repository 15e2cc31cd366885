package app_test

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// Every operation of the API, called by a client of every built-in role,
// is let through or refused with 403 exactly as the hand-written matrix in
// testdata/role-matrix.tsv says.
func TestRoleMatrix(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		roles, want := readMatrix(t)
		callers := map[string]*apitest.Caller{}
		for _, role := range roles {
			callers[role] = w.s.As(t, []string{role}, w.company)
		}
		seen := map[string]bool{}
		for _, op := range w.s.App.API().Operations() {
			expected, ok := want[op.ID]
			if !ok {
				t.Errorf("operation %s is not in testdata/role-matrix.tsv", op.ID)
				continue
			}
			seen[op.ID] = true
			path := op.Path
			for _, param := range []string{"{id}", "{external_id}"} {
				path = strings.ReplaceAll(path, param, "matrix-probe")
			}
			var body any
			headers := []string{}
			switch op.Method {
			case "POST", "PUT":
				body = `{}`
				headers = append(headers, "Content-Type", "application/json")
			case "PATCH":
				body = `{}`
				headers = append(headers, "Content-Type", "application/merge-patch+json", "If-Match", `"1"`)
			}
			for i, role := range roles {
				got := "A"
				if op.MediaType == "text/event-stream" {
					// A stream never ends: judge it by its status line.
					if streamStatus(t, w.s.URL+path, callers[role].Token(t)) == 403 {
						got = "F"
					}
				} else if r := callers[role].Do(t, op.Method, path, body, headers...); r.Status == 403 {
					got = "F"
				} else if r.Status == 401 || r.Status >= 500 {
					t.Errorf("%s as %s: %d %s", op.ID, role, r.Status, r.Body)
				}
				if got != expected[i] {
					t.Errorf("%s as %s: %s, the matrix says %s", op.ID, role, got, expected[i])
				}
			}
		}
		for id := range want {
			if !seen[id] {
				t.Errorf("the matrix lists %s, which the API does not have", id)
			}
		}
	})
}

func readMatrix(t *testing.T) ([]string, map[string][]string) {
	t.Helper()
	f, err := os.Open("testdata/role-matrix.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var roles []string
	rows := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		if cols[0] == "operation" {
			roles = cols[1:]
			continue
		}
		if len(cols) != len(roles)+1 {
			t.Fatalf("matrix row %q has %d columns", line, len(cols))
		}
		rows[cols[0]] = cols[1:]
	}
	return roles, rows
}

func streamStatus(t *testing.T, url, token string) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
