#!/usr/bin/env bash
# The quick loop as a machine with nothing but Rust runs it: `cargo test` with no network (a network
# namespace of its own, loopback only), not as root (uid 1000 without capabilities, in a user
# namespace), an empty HOME (no index, wheel or ABI caches), no tools venv, and a PATH without the tools
# the ignored tests need (python, pip, uv, pytest, chromium, docker-registry, skopeo, htpasswd, buildah,
# debootstrap). It passes only if every test that needs more is #[ignore]d with its reason, which is what
# keeps a bare `cargo test` a loop anyone can run.
#   scripts/test/offline.sh [cargo test args...]     e.g. scripts/test/offline.sh --test check
# Needs util-linux's unshare (2.38+, for --map-user) with user namespaces, and iproute2's ip; no root.
# Build first (scripts/test.sh runs this after its own cargo test): cargo runs with --offline in here.
# Respects CARGO_TARGET_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/bin" "$scratch/home"

# A PATH of links to every command on this one but the tools above.
IFS=: read -ra dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
  [[ -d $dir ]] || continue
  for tool in "$dir"/*; do
    name="${tool##*/}"
    case "$name" in
      python* | pip* | pydoc* | uv | uvx | pytest* | py.test | chromium* | docker* | skopeo | htpasswd | \
        buildah | podman | umoci | debootstrap) continue ;;
    esac
    [[ -x $tool && ! -e $scratch/bin/$name ]] && ln -s "$tool" "$scratch/bin/$name"
  done
done

# cargo and rustup find their homes from HOME unless told: pin them before HOME changes.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
command -v ip >/dev/null || { echo "offline.sh: needs ip (iproute2) to bring loopback up" >&2; exit 2; }
unshare --user --map-root-user --net true 2>/dev/null ||
  { echo "offline.sh: cannot make a user and network namespace here (unshare -rn)" >&2; exit 2; }

echo "+ cargo test --offline $* (no network, uid 1000, empty HOME, PATH without python/uv/chromium/registry tools)"
# Outer namespace: root there, so it may bring loopback up (the tests' local servers listen on it); inner
# one: uid 1000 with no capabilities, as a user's shell.
unshare --user --map-root-user --net sh -c \
  'ip link set lo up && exec unshare --user --map-user=1000 --map-group=1000 "$@"' sh \
  env -u FAVE_LOCK_TEST_VENV -u VIRTUAL_ENV -u XDG_CACHE_HOME -u FAVE_LOCK_CACHE_DIR \
  HOME="$scratch/home" PATH="$scratch/bin" \
  cargo test --offline --no-fail-fast "$@"
