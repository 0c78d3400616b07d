#!/usr/bin/env bash
# Install the Debian tools the `fave-lock serve` tests and bench use, only if one is missing:
#   docker-registry (distribution 2.8: the OCI registry under test), skopeo (re-push images in Docker
#   schema 2 format),
#   apache2-utils (htpasswd -B for the basic-auth registry), chromium (browser test), wrk (load bench).
# Runs `apt-get update` at most once, and only when something must be installed. Idempotent and quiet
# when all is there. Usage: scripts/setup/serve-deps.sh
set -euo pipefail

# command → package
declare -A NEEDED=(
  [docker-registry]=docker-registry
  [skopeo]=skopeo
  [htpasswd]=apache2-utils
  [chromium]=chromium
  [wrk]=wrk
)

missing=()
for cmd in "${!NEEDED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDED[$cmd]}")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
printf '[setup-serve-deps] apt-get install %s\n' "${missing[*]}" >&2
# A lock so that parallel test binaries calling this script do not race on dpkg.
exec 9>/tmp/fave-lock-setup-serve-deps.lock
flock 9
# Another caller may have installed everything while this one waited for the lock.
still=()
for cmd in "${!NEEDED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || still+=("${NEEDED[$cmd]}")
done
if ((${#still[@]} == 0)); then
  exit 0
fi
# Wait for a dpkg lock held by another setup script instead of failing at once.
APT=(apt-get -o DPkg::Lock::Timeout=600)
$SUDO "${APT[@]}" update -qq
DEBIAN_FRONTEND=noninteractive $SUDO "${APT[@]}" install -y -qq --no-install-recommends "${still[@]}" >/dev/null
for cmd in "${!NEEDED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "setup-serve-deps: \`$cmd\` still missing after install" >&2; exit 2; }
done
