#!/usr/bin/env bash
# THE test command: sets up the test tools, then runs every test (Rust, then Python if present:
# tests/python runs through scripts/test/python.sh when that exists, else the tools venv's pytest).
#   scripts/test.sh                  # everything
#   scripts/test.sh live_pypi        # extra arguments go to `cargo test --all-targets`
# A bare `cargo test` runs only the tests that need nothing but Rust and loopback: each test that needs
# the network, root or a tool (PyPI, deb.debian.org, docker-registry, chromium, buildah, the tools venv)
# is #[ignore]d with a reason saying which. This script installs those tools and turns them on with
# libtest's --include-ignored, so the switch changes no build (the CI cache serves both).
# Respects CARGO_TARGET_DIR. Exits non-zero if any part fails (later parts still run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

section() { printf '\n==== %s ====\n' "$*"; }
failed=()

section "set up test environment (scripts/setup/test-env.sh)"
scripts/setup/test-env.sh
export FAVE_LOCK_TEST_VENV="$ROOT/.venv/tools"
# Debian tools the registry, dashboard and browser tests start (docker-registry, skopeo, htpasswd,
# chromium, wrk): installed once up front, so parallel test binaries never race on dpkg.
scripts/setup/serve-deps.sh

selected=$#   # arguments select tests: then the offline run below is left out
# Measurements (tests named measure_*, #[ignore]d too) print figures rather than check: they stay out,
# as does the whole-corpus comparison with uv (tests/corpus.rs, 36 public files: ~10 min on 2 cores;
# run it with `cargo test --test corpus -- --ignored`).
harness=(--include-ignored --skip measure_ --skip fave_lock_agrees_with_uv_on_the_corpus)
if [[ " $* " == *" -- "* ]]; then
  set -- "$@" "${harness[@]}"
else
  set -- "$@" -- "${harness[@]}"
fi
section "cargo test --all-targets $*"
if ! cargo test --no-fail-fast --all-targets "$@"; then
  failed+=("cargo test")
fi

section "the quick loop offline (scripts/test/offline.sh)"
# A bare `cargo test` must pass on a machine with nothing but Rust: no network, no root, no tools. This
# runs it that way on the build above, so a new test that needs more and is not #[ignore]d fails here.
if ((selected)); then
  echo "tests selected by arguments: skipped"
elif ! scripts/test/offline.sh; then
  failed+=("cargo test offline")
fi

section "fuzz smoke run (scripts/test/fuzz-smoke.sh)"
# cargo-fuzz, installed once into CARGO_FUZZ_ROOT (CI keeps it in its cache folder); a few seconds per
# target from the seed corpus. tests/fuzz_regressions.rs (above) replays every corpus and crash input.
CARGO_FUZZ_ROOT="${CARGO_FUZZ_ROOT:-$ROOT/.cache/cargo-fuzz}"
export PATH="$CARGO_FUZZ_ROOT/bin:$PATH"
if ! command -v cargo-fuzz >/dev/null; then
  echo "+ cargo install cargo-fuzz@0.13.2 --locked --root $CARGO_FUZZ_ROOT"
  cargo install cargo-fuzz@0.13.2 --locked --root "$CARGO_FUZZ_ROOT" --quiet || failed+=("cargo install cargo-fuzz")
fi
if ! scripts/test/fuzz-smoke.sh "${FUZZ_SMOKE_SECONDS:-8}"; then
  failed+=("fuzz smoke run")
fi

section "python tests (tests/python)"
# Tests are expected when tests/python holds test files; then "no tests collected" (pytest's exit 5) is
# a failure. Without test files nothing runs (a conftest.py alone may need a venv that isn't built).
expected=""
[[ -d tests/python ]] && expected=$(find tests/python \( -name 'test_*.py' -o -name '*_test.py' \) -print -quit)
if [[ -n $expected ]]; then
  if [[ -x scripts/test/python.sh ]]; then
    runner=(scripts/test/python.sh)       # builds the venv these tests need, then runs pytest
  else
    runner=("$FAVE_LOCK_TEST_VENV/bin/python" -m pytest tests/python)
  fi
  echo "+ ${runner[*]}"
  set +e
  "${runner[@]}"
  rc=$?
  set -e
  if [[ $rc -eq 5 ]]; then
    echo "pytest collected no tests although tests/python has test files" >&2
    failed+=("pytest (no tests collected)")
  elif [[ $rc -ne 0 ]]; then
    failed+=("python tests (exit $rc)")
  fi
else
  echo "no test files under tests/python: skipped"
fi

section "summary"
if ((${#failed[@]})); then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "all test suites passed"
