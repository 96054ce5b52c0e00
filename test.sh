#!/usr/bin/env bash
# Runs every test on a fresh Debian machine with the .NET 10 SDK: installs what the tests
# need when it is missing, builds, runs each test project, and ends with one line:
#   Tests: N passed, N failed[, N skipped]
# Slow fault/soak runs are in the "Soak" category and run only with HALFHOUR_SOAK=1.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"

# System packages the tests use, installed only when missing.
missing=()
need_pkg() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
# (packages are added here as the tests come to need them)
# The JetStream engine's tests run real nats-server processes; they fail, never skip, without it.
need_pkg nats-server nats-server
need_pkg curl curl          # the README's first-message script, run by the tests
need_pkg openssl openssl    # signs that script's requests
if ((${#missing[@]})); then
  echo "test.sh: installing ${missing[*]}" >&2
  if [[ $(id -u) -eq 0 ]]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2; fi
fi

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

if ! dotnet build Halfhour.slnx -c Release -nologo -v quiet; then
  echo "Tests: 0 passed, 1 failed (the build failed)"
  exit 1
fi

filter="Category!=Soak"
[[ "${HALFHOUR_SOAK:-0}" == "1" ]] && filter=""

rc=0
console="$results/console.log"
for proj in tests/*/*.Tests.csproj; do
  name="$(basename "$proj" .csproj)"
  echo "== $name" >&2
  dotnet test "$proj" -c Release --no-build -nologo \
    ${filter:+--filter "$filter"} \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=minimal" \
    --results-directory "$results" 2>&1 | tee -a "$console"
  ((PIPESTATUS[0] == 0)) || rc=1
done

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [[ -f "$trx" ]] || continue
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -1)"
  get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done
# A crashed test host writes no failure counts: never report green when dotnet test was not.
if ((rc != 0 && failed == 0)); then failed=1; fi

# The failures again at the end, where a truncated log still shows them: each test's name and the start of its message.
if ((failed > 0)); then
  echo "Failed tests:"
  grep -A2 -E '^  Failed [A-Za-z]' "$console" | grep -vE '^  Error Message:|^--$' | cut -c1-600
fi

line="Tests: $passed passed, $failed failed"
((skipped > 0)) && line+=", $skipped skipped"
echo "$line"
((failed == 0))
