#!/usr/bin/env bash
# Within v1 only additive changes are allowed (DESIGN §4), so api/openapi.json
# must not break any version of itself that was ever committed. Comparing
# with every earlier version, not only the previous one, means a break that
# once got committed does not become the new baseline: the check keeps
# failing until the contract is restored.
#
# The script then breaks a copy of the spec on purpose and requires oasdiff
# to notice: a check that cannot fail proves nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

OASDIFF_MODULE=github.com/oasdiff/oasdiff
OASDIFF_VERSION=v1.37.0
OASDIFF="$PWD/.ci/bin/oasdiff"
SPEC=api/openapi.json
SAMPLE=internal/platform/apidocs/testdata/sample-openapi.json
# oasdiff's defaults let some removals through: it rates them INFO or WARN,
# below --fail-on ERR. This file (whose format allows no comments) raises
# them to ERR:
#   response-optional-property-removed  most response fields are optional, and
#                                       a client reading one still breaks
#   optional-response-header-removed    clients rely on ETag, Deprecation, ...
#   request-property-removed            request bodies refuse unknown fields,
#                                       so clients still sending it get 422
#   request-parameter-removed           a filter silently ignored returns
#                                       other data than the client asked for
#   api-operation-id-removed            generated SDKs name methods after it
LEVELS=internal/platform/apidocs/oasdiff-levels.txt

# The binary reports its version as "main", so ask its build info instead.
if ! go version -m "$OASDIFF" 2>/dev/null |
  grep -E "^[[:space:]]+mod[[:space:]]+${OASDIFF_MODULE}[[:space:]]+${OASDIFF_VERSION}([[:space:]]|$)" >/dev/null; then
  echo "installing $OASDIFF_MODULE@$OASDIFF_VERSION into .ci/bin"
  # With @version, go install ignores this module's go.mod: the tool adds
  # nothing to the project's dependencies.
  GOBIN="$PWD/.ci/bin" go install "$OASDIFF_MODULE@$OASDIFF_VERSION"
fi

# Keep in step with oasdiffArgs in internal/platform/apidocs/mutate_test.go.
# External refs stay off so a comparison never reaches the network.
breaking() {
  "$OASDIFF" breaking "$1" "$2" --fail-on ERR --severity-levels "$LEVELS" \
    --allow-external-refs=false --color never
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

# --- 1. The current spec against every committed version of it.
if [ ! -f "$SPEC" ]; then
  echo "$SPEC does not exist: nothing to check"
elif [ -z "$(git log -1 --format=%H -- "$SPEC")" ]; then
  echo "$SPEC has no committed history yet: nothing to compare with"
else
  if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
    echo "this clone is shallow, so earlier versions of $SPEC may be missing; run: git fetch --unshallow" >&2
    exit 1
  fi
  current_blob=$(git hash-object "$SPEC")
  declare -A seen=([$current_blob]=1)
  compared=0
  for sha in $(git log --format=%H -- "$SPEC"); do
    # A commit that deleted the file touched it too but holds no version.
    blob=$(git rev-parse -q --verify "$sha:$SPEC" 2>/dev/null) || continue
    # Identical content cannot break; skip the cost of a comparison.
    [ -z "${seen[$blob]:-}" ] || continue
    seen[$blob]=1
    # Named after the commit because oasdiff prints the path in its report.
    base="$tmp/openapi@${sha:0:12}.json"
    git show "$sha:$SPEC" >"$base"
    compared=$((compared + 1))
    rc=0
    out=$(breaking "$base" "$SPEC" 2>&1) || rc=$?
    case $rc in
    0) ;;
    1)
      echo "BREAKING: $SPEC breaks the version committed in $(git log -1 --date=short --format='%h (%ad) %s' "$sha"):"
      echo "$out"
      failed=1
      ;;
    *)
      echo "oasdiff could not compare $SPEC with the version in ${sha:0:12} (exit $rc):"
      echo "$out"
      failed=1
      ;;
    esac
  done
  if [ "$failed" = 0 ]; then
    echo "$SPEC breaks none of its $compared earlier committed version(s)"
  fi
fi

# --- 2. Self-test: removing a response field must be reported as breaking.
src=$SPEC
[ -f "$src" ] || src=$SAMPLE
mutate() { go run ./internal/platform/apidocs/cmd/specmutate "$1" "$tmp/mutated.json"; }
if ! removed=$(mutate "$src") && [ "$src" != "$SAMPLE" ]; then
  # A young spec may have no 2xx response with fields yet; the sample still
  # proves that oasdiff and the levels file catch a removal.
  echo "self-test: nothing to remove in $src, using $SAMPLE"
  src=$SAMPLE
  removed=$(mutate "$src") || removed=
fi
if [ -z "$removed" ]; then
  echo "SELF-TEST FAILED: specmutate found no response field to remove in $src" >&2
  failed=1
else
  rc=0
  out=$(breaking "$src" "$tmp/mutated.json" 2>&1) || rc=$?
  if [ "$rc" = 1 ]; then
    echo "self-test: oasdiff caught the deliberate break in $src ($removed)"
  else
    echo "SELF-TEST FAILED: specmutate $removed in $src, and oasdiff exited $rc instead of 1 (breaking change found):" >&2
    echo "$out" >&2
    failed=1
  fi
fi

exit "$failed"
