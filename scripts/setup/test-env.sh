#!/usr/bin/env bash
# Set up everything the tests need, idempotently:
#   - Debian packages (APT_PACKAGES),
#   - .venv/tools: a Python 3.11 venv with pinned uv, packaging, pytest, cyclonedx-python-lib,
#     packageurl-python.
# A stamp file holding the hash of this setup's inputs makes a second run return at once.
# Usage: scripts/setup/test-env.sh        (from anywhere; works on the repo it lives in)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv/tools"
STAMP="$VENV/.fave-setup-stamp"

# Debian packages the tests need: gpgv and the archive keyring verify the Debian archive's InRelease
# files as apt does (fave-lock's apt.lock, tests/apt_live.rs), dpkg checks our version order.
# gpg signs a test release (tests/apt_live.rs: an expired release is refused).
APT_PACKAGES=(gpgv debian-archive-keyring dpkg gpg)

# Python tools, pinned. Change a pin here and the next run reinstalls.
PIP_PINS=(
  "pip==26.3"
  "uv==0.13.9"
  "packaging==26.4"                                # >=25 needed; pylock support (packaging.pylock)
  "pytest==9.2.0"
  "cyclonedx-python-lib[json-validation]==11.12.0"
  "packageurl-python==0.17.6"                      # the SBOM test round-trips every purl through it
  "python-debian==1.0.1"                           # the apt test reads Debian copyright files with it
)

log() { printf '[setup-test-env] %s\n' "$*"; }

# ---- Debian packages ------------------------------------------------------------------------
if ((${#APT_PACKAGES[@]})); then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    log "apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

# ---- Python 3.11 ----------------------------------------------------------------------------
# shellcheck source=scripts/setup/python311.sh
source "$ROOT/scripts/setup/python311.sh"
if [[ -z $PY ]]; then
  echo "setup-test-env: need CPython 3.11 (python3.11, or python3 being 3.11); none found" >&2
  exit 2
fi

want="$( { "$PY" -c 'import sys; print(sys.version)'; printf '%s\n' "${PIP_PINS[@]}"; } | sha256sum | cut -d' ' -f1)"
if [[ -f $STAMP && "$(cat "$STAMP")" == "$want" && -x $VENV/bin/python && -x $VENV/bin/uv ]]; then
  log "up to date ($VENV)"
  exit 0
fi

# ---- the tools venv -------------------------------------------------------------------------
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  log "creating $VENV with $PY"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi
log "installing ${PIP_PINS[*]}"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PIP_PINS[@]}"
"$VENV/bin/python" -c 'import packaging.pylock, pytest, cyclonedx, packageurl' # fail here, not in the tests
"$VENV/bin/uv" --version
printf '%s\n' "$want" > "$STAMP"
log "done ($VENV)"
