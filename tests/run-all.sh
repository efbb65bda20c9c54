#!/usr/bin/env bash
# Build and run every suite, then print one summary line "N passed, N failed".
#   1. formatting (clang-format) of every C source
#   2. the normal build: unit, fuzz-replay, golden, integration, systemd, netns,
#      interop suites (each when it has tests)
#   3. an AddressSanitizer + UndefinedBehaviorSanitizer build: unit, fuzz-replay
#      and integration suites (a sanitizer finding in a daemon fails its test)
#   4. a clang libFuzzer build: each fuzz target for a few seconds on its corpus
# Each suite's result counts even if an earlier one failed; the exit status is
# non-zero when anything failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
passed=0
failed=0
jobs=${SDNETD_TEST_JOBS:-2}

log() { printf '==> %s\n' "$*" >&2; }

count() { # name status
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); log "FAILED: $1"; fi
}

# Add the results of one `meson test` run (from its JSON log) to the totals.
tally() { # builddir
  local log="$1/meson-logs/testlog.json" p f
  [ -f "$log" ] || return 0
  read -r p f < <(python3 - "$log" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r != "SKIP":
        f += 1
print(p, f)
PY
)
  passed=$((passed + p))
  failed=$((failed + f))
}

setup() { # dir, meson args...
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

run_suites() { # dir, suites...
  local dir=$1; shift
  local args=()
  for s in "$@"; do args+=(--suite "$s"); done
  rm -f "$dir/meson-logs/testlog.json"
  meson test -C "$dir" --num-processes "$jobs" --print-errorlogs "${args[@]}" >&2
  tally "$dir"
}

# 1. Formatting.
log "checking formatting"
unformatted=$(git ls-files '*.c' '*.h' | xargs clang-format --dry-run 2>&1 | grep -c 'warning:' || true)
if [ "$unformatted" -ne 0 ]; then
  git ls-files '*.c' '*.h' | xargs clang-format --dry-run 2>&1 | grep 'warning:' | head -20 >&2
fi
count "clang-format ($unformatted warnings)" "$unformatted"

# 2. Normal build.
log "normal build"
if setup build && ninja -C build >&2; then
  count "build" 0
  suites=(unit fuzz-replay)
  for s in golden integration systemd netns interop; do
    if meson test -C build --list --suite "$s" >/dev/null 2>&1 \
       && [ -n "$(meson test -C build --list --suite "$s" 2>/dev/null)" ]; then
      suites+=("$s")
    fi
  done
  run_suites build "${suites[@]}"
else
  count "build" 1
fi

# 3. Sanitizer build.
log "sanitizer build (address, undefined)"
if setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
   && ninja -C build-asan >&2; then
  count "sanitizer build" 0
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
    run_suites build-asan unit fuzz-replay integration
else
  count "sanitizer build" 1
fi

# 4. libFuzzer build.
log "libFuzzer build (clang)"
if CC=clang setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
   && ninja -C build-fuzz >&2; then
  count "fuzz build" 0
  run_suites build-fuzz fuzz
else
  count "fuzz build" 1
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
