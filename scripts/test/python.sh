#!/usr/bin/env bash
# Test the FAVE Python helpers (base-image/common) and the sample function (functions/orchestrator):
#   1. .venv/helpers: a CPython 3.11 venv installed from the lock, exactly as the base image will install it
#        pip install --require-hashes --no-deps --only-binary=:all: -r locks/fave-base/requirements.txt
#      then `pip check`, then pytest (not in the lock; pinned here, installed in a second step);
#   2. an S3-compatible server for the storage tests: s3s-fs from crates.io, built once into .cache/s3s;
#   3. pytest tests/python (the tests start s3s-fs themselves on a free loopback port).
# Idempotent: a stamp (hash of Python version, lock and pytest pin) skips step 1, an existing s3s-fs of the pinned
# version skips step 2. Exits non-zero when a step or a test fails, or when pytest collects no test.
#
# Usage: scripts/test/python.sh [pytest args...]     e.g. scripts/test/python.sh -k storage -x
# Environment: FAVE_S3S_ROOT  where s3s-fs is installed (default: <repo>/.cache/s3s; point it outside the clone
#                             to share one build between clones)
#              FAVE_HELPERS_VENV  the venv (default: <repo>/.venv/helpers)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

LOCK="locks/fave-base/requirements.txt"
VENV="${FAVE_HELPERS_VENV:-$ROOT/.venv/helpers}"
STAMP="$VENV/.fave-helpers-stamp"
PYTEST_PIN="pytest==9.2.0"          # same pin as scripts/setup/test-env.sh
S3S_VERSION="0.14.1"                # newest s3s-fs that builds on Rust 1.95 (0.15+ need Rust 1.96)
S3S_ROOT="${FAVE_S3S_ROOT:-$ROOT/.cache/s3s}"
S3S_BIN="$S3S_ROOT/bin/s3s-fs"

log() { printf '[test-python] %s\n' "$*"; }
die() { printf '[test-python] error: %s\n' "$*" >&2; exit 2; }
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

# ---- 1. the helpers venv, from the lock -----------------------------------------------------------------------
[[ -f $LOCK ]] || die "$LOCK not found: generate it with 'cargo run --release -- resolve'"

# shellcheck source=scripts/setup/python311.sh
source "$ROOT/scripts/setup/python311.sh"
[[ -n $PY ]] || die "need CPython 3.11 (python3.11, or python3 being 3.11); none found"

want="$( { "$PY" -c 'import sys; print(sys.version)'; sha256sum "$LOCK"; echo "$PYTEST_PIN"; } | sha256sum | cut -d' ' -f1)"
if [[ -f $STAMP && "$(cat "$STAMP")" == "$want" && -x $VENV/bin/python ]]; then
  log "venv up to date ($VENV)"
else
  # Start from an empty venv so that it holds exactly the lock (plus pytest), nothing left from an older lock.
  log "creating $VENV with $PY"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  log "pip install --require-hashes --no-deps --only-binary=:all: -r $LOCK"
  start=$SECONDS
  "$VENV/bin/python" -m pip install -q --require-hashes --no-deps --only-binary=:all: -r "$LOCK"
  log "installed the lock in $((SECONDS - start))s; pip check:"
  "$VENV/bin/python" -m pip check
  "$VENV/bin/python" -m pip install -q "$PYTEST_PIN"
  "$VENV/bin/python" -c 'import boto3, minio, numpy, librosa, soundfile, httpx, cv2, onnxruntime, scipy, pydantic, pytest'
  printf '%s\n' "$want" > "$STAMP"
fi

# ---- 2. s3s-fs --------------------------------------------------------------------------------------------------
if [[ -x $S3S_BIN ]] && [[ "$("$S3S_BIN" --version 2>/dev/null)" == "s3s-fs $S3S_VERSION" ]]; then
  log "s3s-fs $S3S_VERSION present ($S3S_BIN)"
else
  command -v cargo >/dev/null 2>&1 || die "cargo not found: needed to build s3s-fs"
  log "building s3s-fs $S3S_VERSION into $S3S_ROOT (cargo install, a few minutes, once)"
  start=$SECONDS
  # Own target dir, so that a CARGO_TARGET_DIR set for the project does not mix with this build.
  CARGO_TARGET_DIR="$S3S_ROOT/target" \
    cargo install s3s-fs --version "=$S3S_VERSION" --features binary --locked --root "$S3S_ROOT" --quiet
  rm -rf "$S3S_ROOT/target"
  log "built s3s-fs in $((SECONDS - start))s"
  [[ "$("$S3S_BIN" --version)" == "s3s-fs $S3S_VERSION" ]] || die "$S3S_BIN does not report version $S3S_VERSION"
fi
export FAVE_S3S_BIN="$S3S_BIN"

# ---- 3. pytest ----------------------------------------------------------------------------------------------------
log "pytest tests/python"
set +e
"$VENV/bin/python" -m pytest tests/python -p no:cacheprovider -q -rfE "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "[test-python] pytest collected no tests" >&2
  exit 1
fi
exit $rc
