package rest

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
)

// ETag is the strong entity tag of a resource version.
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// CheckIfMatch applies If-Match (RFC 9110 §13.1.1, strong comparison) to
// a write: missing and required is 428, no listed tag matching is 412.
// Callers check existence and access first, so another company's record
// is 404, never 412.
func CheckIfMatch(r *http.Request, current string, required bool) error {
	h := r.Header.Get("If-Match")
	if h == "" {
		if required {
			return apperr.New(apperr.PreconditionRequired, "Send If-Match with the ETag from your last read, so a concurrent change is not overwritten.")
		}
		return nil
	}
	if strings.TrimSpace(h) == "*" {
		return nil
	}
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if !strings.HasPrefix(tag, "W/") && tag == current {
			return nil
		}
	}
	return apperr.New(apperr.PreconditionFailed, "The resource changed since you read it (its ETag is now %s); read it again and reapply your change.", current)
}

// MergePatch applies an RFC 7396 merge patch to target and returns the
// result; target is not modified.
func MergePatch(target map[string]any, patch map[string]any) map[string]any {
	out := make(map[string]any, len(target))
	for k, v := range target {
		out[k] = v
	}
	for k, pv := range patch {
		if pv == nil {
			delete(out, k)
			continue
		}
		pm, isObj := pv.(map[string]any)
		if !isObj {
			out[k] = pv
			continue
		}
		tm, _ := out[k].(map[string]any)
		out[k] = MergePatch(tm, pm)
	}
	return out
}
