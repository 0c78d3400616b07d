#!/usr/bin/env bash
# THE test command: sets up the test tools, then runs every test (Rust, then Python if present).
#   scripts/test.sh                  # everything
#   scripts/test.sh live_pypi        # extra arguments go to `cargo test --all-targets`
# Respects CARGO_TARGET_DIR. Exits non-zero if any part fails (later parts still run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

section() { printf '\n==== %s ====\n' "$*"; }
failed=()

section "set up test environment (scripts/setup-test-env.sh)"
scripts/setup-test-env.sh
export FAVE_LOCK_TEST_VENV="$ROOT/.venv/tools"

section "cargo test --all-targets $*"
if ! cargo test --all-targets "$@"; then
  failed+=("cargo test")
fi

section "python tests (pytest tests/python)"
if [[ -d tests/python ]]; then
  # Tests are expected when the folder holds test files; then "no tests collected" (exit 5) is a failure.
  expected=$(find tests/python \( -name 'test_*.py' -o -name '*_test.py' \) -print -quit)
  set +e
  "$FAVE_LOCK_TEST_VENV/bin/python" -m pytest tests/python
  rc=$?
  set -e
  if [[ $rc -eq 5 && -z $expected ]]; then
    echo "pytest: tests/python has no test files; nothing to run"
  elif [[ $rc -eq 5 ]]; then
    echo "pytest collected no tests although tests/python has test files" >&2
    failed+=("pytest (no tests collected)")
  elif [[ $rc -ne 0 ]]; then
    failed+=("pytest (exit $rc)")
  fi
else
  echo "no tests/python folder: skipped"
fi

section "summary"
if ((${#failed[@]})); then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "all test suites passed"
