#!/usr/bin/env bash
# End-to-end check of the base image: build base-image/Dockerfile with the build plan's args and labels,
# push it to a local registry, check through the registry's HTTP API that the image carries the lock's
# sha256, attach the SBOM (`fave-lock attach`) and read it back byte for byte, and run a sample stage
# inside it. Run by tests/image_e2e.rs (so by CI); usable by hand:
#
#   scripts/test/e2e-image.sh [IMAGE]   # fave-base (default) or fave-vad (its webrtcvad is built from the
#                                  # sdist in the Dockerfile's first stage)
#                             # env: FAVE_LOCK_BIN=path/to/fave-lock (default: cargo build, debug)
#                             #      FAVE_E2E_CACHE=dir for the rootfs tarball (default: .cache/e2e)
#
# What stands in for what, since no image can be pulled here:
#   python:3.11-slim  → localhost/fave-py-base:bookworm, a Debian bookworm rootfs made by debootstrap
#                       (minbase + python3 + python3-venv: CPython 3.11.2, ensurepip's bundled pip),
#                       cached as a tarball under .cache/e2e/ ($FAVE_E2E_CACHE), keyed by the
#                       debootstrap arguments; made once, about 3 minutes
#   Docker            → buildah with the vfs driver and chroot isolation (`--isolation oci` fails here)
#   ghcr.io           → Debian's docker-registry on a free loopback port
#
# Needs root (debootstrap, buildah), network to Debian's archive and PyPI. Installs its tools with apt-get
# when missing (`apt-get update` only then). Everything else lives in a temp dir removed on exit, and the
# registry is stopped by its PID. Prints each step's time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
IMAGE=${1:-fave-base}
CACHE="${FAVE_E2E_CACHE:-$ROOT/.cache/e2e}"
LOCAL_BASE=localhost/fave-py-base:bookworm
BUILT=localhost/$IMAGE:e2e

STARTED=$SECONDS
STEP_NAME=""
STEP_STARTED=$SECONDS
TIMINGS=()
# `step NAME` ends the previous step (printing its time) and starts NAME; `step` alone ends the last.
step() {
  if [[ -n $STEP_NAME ]]; then
    TIMINGS+=("$(printf '%5ds  %s' $((SECONDS - STEP_STARTED)) "$STEP_NAME")")
    printf '[e2e-image]   … %ds\n' $((SECONDS - STEP_STARTED))
  fi
  STEP_NAME=${1:-}
  STEP_STARTED=$SECONDS
  [[ -z $STEP_NAME ]] || printf '[e2e-image] %s\n' "$STEP_NAME"
}
fail() { printf '[e2e-image] FAILED: %s\n' "$*" >&2; exit 1; }

# ---- one run at a time ----------------------------------------------------------------------------------
# Two runs at once (tests/image_e2e.rs runs fave-base and fave-vad in parallel threads) would race on
# apt-get, on the rootfs tarball, and double the vfs scratch space: CI once ran out of disk that way.
mkdir -p "$CACHE"
exec 8>"$CACHE/.e2e-image.lock"
if ! flock -n 8; then
  echo "[e2e-image] waiting for another e2e-image run to finish ($CACHE/.e2e-image.lock)"
  flock 8
fi

# ---- tools ------------------------------------------------------------------------------------------
step "tools"
APT_PACKAGES=(buildah debootstrap docker-registry skopeo curl jq)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || fail "need root to install ${missing[*]}"
  echo "[e2e-image] apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[[ $(id -u) -eq 0 ]] || fail "needs root (debootstrap, buildah with chroot isolation)"

if [[ -n ${FAVE_LOCK_BIN:-} ]]; then
  FAVE_LOCK=$FAVE_LOCK_BIN
else
  cargo build --quiet
  FAVE_LOCK="${CARGO_TARGET_DIR:-$ROOT/target}/debug/fave-lock"
fi

# ---- scratch space and cleanup ------------------------------------------------------------------------
# buildah's vfs driver copies every layer in full: fave-base peaked at 3.4 GB of scratch space (du every
# 5 s during a CI run, 2026-12-07). Say so up front rather than fail half-way with "no space left on device".
free_kb=$(df -Pk /tmp | awk 'NR == 2 {print $4}')
((free_kb > 4 * 1024 * 1024)) || fail "only $((free_kb / 1024)) MB free in /tmp; the image build needs about 4 GB"
WORK="$(mktemp -d /tmp/fave-e2e-image.XXXXXX)"
B="buildah --storage-driver vfs --root $WORK/store --runroot $WORK/run"
REGISTRY_PID=""
cleanup() {
  local status=$?
  set +e
  if [[ -n $REGISTRY_PID ]]; then
    kill "$REGISTRY_PID" 2>/dev/null
    wait "$REGISTRY_PID" 2>/dev/null
  fi
  # Containers first (unmounts anything a run left), then the store; never cross into another
  # filesystem in case a mount survived.
  if [[ -d $WORK/store ]]; then
    $B rm --all >/dev/null 2>&1 || true
    $B rmi --all --force >/dev/null 2>&1 || true
  fi
  rm -rf --one-file-system "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the plan -----------------------------------------------------------------------------------------
step "read the build plan"
"$FAVE_LOCK" plan "$IMAGE" > "$WORK/plan.json"   # exit 3 when a lock file no longer matches the plan
revision=()
if commit=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null); then revision=(--revision "$commit"); fi
build_arg_text=$("$FAVE_LOCK" plan "$IMAGE" --format build-args "${revision[@]}")
label_text=$("$FAVE_LOCK" plan "$IMAGE" --format labels "${revision[@]}")
eval "build_args=($build_arg_text)"
eval "labels=($label_text)"
context=$(jq -r .context "$WORK/plan.json")
lock_sha256=$(jq -r '.labels["io.fave.lock.sha256"]' "$WORK/plan.json")
requirements=$(jq -r '.context_files["requirements.txt"]' "$WORK/plan.json")
want_sha256=$(sha256sum "$requirements" | cut -d' ' -f1)
[[ $lock_sha256 == "$want_sha256" ]] || fail "plan label $lock_sha256 != sha256sum $requirements ($want_sha256)"
first_tag=$(jq -r '.tags[0]' "$WORK/plan.json")
[[ $first_tag != null ]] || fail "the plan has no tag to publish"
repository_tag=${first_tag#*/}          # ghcr.io/fave-project/fave-base:0.1 → fave-project/fave-base:0.1
repository=${repository_tag%:*}
tag=${repository_tag##*:}

# The build context: a private copy of the plan's context plus its context_files (the lock), laid out
# as base-image/Dockerfile describes. A copy, so concurrent runs never touch each other's files or the
# work tree.
cp -r "$context" "$WORK/context"
while IFS=$'\t' read -r inside source; do
  install -m 0644 "$source" "$WORK/context/$inside"
done < <(jq -r '.context_files | to_entries[] | "\(.key)\t\(.value)"' "$WORK/plan.json")

# ---- the stand-in base image ------------------------------------------------------------------------
DEBOOTSTRAP_ARGS=(--variant=minbase --include=python3,python3-venv bookworm)
# Bump when the steps below change what the tarball holds.
RECIPE="v2: apt sources from the host's debian.sources (bookworm, -updates, -security, as python:3.11-slim), no apt caches"
key=$(printf '%s\n' "${DEBOOTSTRAP_ARGS[@]}" "$RECIPE" | sha256sum | cut -c1-16)
tarball="$CACHE/bookworm-python3-$key.tar"
mkdir -p "$CACHE"
step "base rootfs (debootstrap, cached)"
(
  flock 9
  if [[ -f $tarball ]]; then
    echo "[e2e-image]   cached: $tarball"
  else
    echo "[e2e-image]   debootstrap (cold: about 3 min) → $tarball"
    rootfs="$WORK/rootfs"
    # No mirror argument: debootstrap's default Debian mirror.
    debootstrap "${DEBOOTSTRAP_ARGS[@]}" "$rootfs" > "$WORK/debootstrap.log" 2>&1 ||
      { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap"; }
    # python:3.11-slim gets updates and security fixes too: use the host's deb822 sources, which list
    # bookworm, bookworm-updates and bookworm-security (the host is bookworm as well).
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
      cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/debian.sources"
      rm -f "$rootfs/etc/apt/sources.list"
    fi
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    find "$CACHE" -maxdepth 1 -name 'bookworm-python3-*.tar' ! -name "$(basename "$tarball")" -delete
    rm -rf --one-file-system "$rootfs"
  fi
) 9> "$CACHE/.lock"

step "import $LOCAL_BASE"
container=$($B from scratch)
$B add --quiet "$container" "$tarball" / >/dev/null
$B config --env LANG=C.UTF-8 --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --cmd python3 "$container"
$B commit --quiet "$container" "$LOCAL_BASE" >/dev/null
$B rm "$container" >/dev/null
base_digest=$($B images --digests --format '{{.Digest}}' "$LOCAL_BASE" | head -1)

# ---- build --------------------------------------------------------------------------------------------
step "build $BUILT (apt, pip --require-hashes)"
# This machine reaches PyPI through a TLS-intercepting proxy whose CA only the host's bundle trusts:
# hand the bundle to pip as the Dockerfile's `pip-ca` secret (never stored in the image).
secret=()
ca_bundle=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
[[ -f $ca_bundle ]] && secret=(--secret "id=pip-ca,src=$ca_bundle")
# The plan's args and labels, then the stand-in base over BASE_IMAGE and the base.* labels.
$B bud --isolation chroot --quiet "${secret[@]}" \
  "${build_args[@]}" "${labels[@]}" \
  --build-arg "BASE_IMAGE=$LOCAL_BASE" --build-arg "BASE_NAME=$LOCAL_BASE" --build-arg "BASE_DIGEST=$base_digest" \
  --label "org.opencontainers.image.base.name=$LOCAL_BASE" --label "org.opencontainers.image.base.digest=$base_digest" \
  -t "$BUILT" "$WORK/context" > "$WORK/build.log" 2>&1 ||
  { tail -40 "$WORK/build.log" >&2; fail "buildah bud"; }
image_id=$($B images --no-trunc --format '{{.ID}}' "$BUILT" | head -1)
image_id=sha256:${image_id#sha256:}

# ---- registry -----------------------------------------------------------------------------------------
step "start docker-registry on loopback"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/registry"
cat > "$WORK/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $WORK/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port, secret: e2e-only}
EOF
docker-registry serve "$WORK/registry.yml" > "$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
REGISTRY=http://127.0.0.1:$port
for _ in $(seq 50); do
  kill -0 "$REGISTRY_PID" 2>/dev/null || { cat "$WORK/registry.log" >&2; fail "docker-registry exited"; }
  [[ $(curl -fsS "$REGISTRY/v2/" 2>/dev/null) == "{}" ]] && break
  sleep 0.1
done
[[ $(curl -fsS "$REGISTRY/v2/") == "{}" ]] || fail "docker-registry does not answer on $REGISTRY/v2/"

step "push to 127.0.0.1:$port/$repository:$tag"
$B push --quiet --tls-verify=false "$BUILT" "docker://127.0.0.1:$port/$repository:$tag" > "$WORK/push.log" 2>&1 ||
  { tail -20 "$WORK/push.log" >&2; fail "buildah push"; }

# ---- verify through the registry ----------------------------------------------------------------------
step "verify labels through the registry API"
ACCEPT="application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"
curl -fsS "$REGISTRY/v2/$repository/tags/list" | jq -e --arg tag "$tag" '.tags | index($tag) != null' >/dev/null ||
  fail "tag $tag not listed"
curl -fsS -H "Accept: $ACCEPT" "$REGISTRY/v2/$repository/manifests/$tag" > "$WORK/manifest.json"
config_digest=$(jq -r .config.digest "$WORK/manifest.json")
[[ $config_digest == "$image_id" ]] || fail "the registry's image config $config_digest is not the built image $image_id"
curl -fsS "$REGISTRY/v2/$repository/blobs/$config_digest" > "$WORK/config.json"
[[ "sha256:$(sha256sum < "$WORK/config.json" | cut -d' ' -f1)" == "$config_digest" ]] || fail "config blob digest mismatch"
label=$(jq -r '.config.Labels["io.fave.lock.sha256"]' "$WORK/config.json")
[[ $label == "$want_sha256" ]] || fail "label io.fave.lock.sha256=$label, but sha256sum $requirements is $want_sha256"
input_hash=$(jq -r '.config.Labels["io.fave.lock.input-hash"]' "$WORK/config.json")
[[ $input_hash == "$(jq -r .input_hash "$WORK/plan.json")" ]] || fail "label io.fave.lock.input-hash=$input_hash"
skopeo_label=$(skopeo inspect --tls-verify=false "docker://127.0.0.1:$port/$repository:$tag" |
  jq -r '.Labels["io.fave.lock.sha256"]')
[[ $skopeo_label == "$want_sha256" ]] || fail "skopeo sees io.fave.lock.sha256=$skopeo_label"
echo "[e2e-image] $repository:$tag config $config_digest: io.fave.lock.sha256=$label = sha256sum $requirements"

# ---- the SBOM in the registry -------------------------------------------------------------------------
step "attach the SBOM and read it back through the registry API"
sbom=$(dirname "$requirements")/sbom.cdx.json
"$FAVE_LOCK" attach "$IMAGE" "127.0.0.1:$port/$repository:$tag" --format json > "$WORK/attach.json" ||
  fail "fave-lock attach"
subject="sha256:$(sha256sum < "$WORK/manifest.json" | cut -d' ' -f1)"
# docker-registry 2.8 has no referrers API: the artifact is listed under the referrers tag sha256-<hex>.
curl -fsS -H "Accept: application/vnd.oci.image.index.v1+json" \
  "$REGISTRY/v2/$repository/manifests/${subject/:/-}" > "$WORK/referrers.json" || fail "no referrers tag for $subject"
artifact=$(jq -r --arg lock "$want_sha256" '[.manifests[] | select(.artifactType == "application/vnd.cyclonedx+json"
  and .annotations["io.fave.lock.sha256"] == $lock)] | last | .digest' "$WORK/referrers.json")
[[ $artifact == "$(jq -r .artifact "$WORK/attach.json")" ]] ||
  fail "the referrers tag lists $artifact, fave-lock attach pushed $(jq -r .artifact "$WORK/attach.json")"
curl -fsS -H "Accept: application/vnd.oci.image.manifest.v1+json" \
  "$REGISTRY/v2/$repository/manifests/$artifact" > "$WORK/artifact.json"
[[ $(jq -r .subject.digest "$WORK/artifact.json") == "$subject" ]] || fail "the SBOM artifact's subject is not $subject"
curl -fsS "$REGISTRY/v2/$repository/blobs/$(jq -r '.layers[0].digest' "$WORK/artifact.json")" > "$WORK/sbom.cdx.json"
cmp -s "$WORK/sbom.cdx.json" "$sbom" || fail "the SBOM read back from the registry differs from $sbom"
echo "[e2e-image] SBOM $artifact refers to $subject; its blob is $sbom byte for byte"

# ---- sample stage -------------------------------------------------------------------------------------
container=$($B from --quiet "$BUILT")
apt_pins=$(jq -r '.build_args.APT_PACKAGES // ""' "$WORK/plan.json")
if [[ $apt_pins == *=* ]]; then
  step "check the Debian packages are the locked versions (dpkg-query in the image)"
  arch=$($B run --isolation chroot "$container" -- dpkg --print-architecture)
  $B run --isolation chroot "$container" -- dpkg-query -W -f '${Package}=${Version}\n' > "$WORK/dpkg.txt" ||
    fail "dpkg-query in the image"
  checked=0
  for entry in $apt_pins; do
    case $entry in
      "$arch"/*) pin=${entry#*/} ;;
      */*) continue ;;
      *) pin=$entry ;;
    esac
    grep -qxF "$pin" "$WORK/dpkg.txt" ||
      fail "apt.lock pins $pin, but the image has $(grep "^${pin%%=*}=" "$WORK/dpkg.txt" || echo 'no such package')"
    checked=$((checked + 1))
  done
  echo "[e2e-image] $checked Debian packages installed at their locked versions ($arch)"
fi
if [[ $IMAGE == fave-base ]]; then
  step "run the sample stage in the image"
  $B copy --quiet "$container" scripts/test/e2e-sample-stage.py /tmp/sample_stage.py >/dev/null
  $B run --isolation chroot "$container" -- python /tmp/sample_stage.py > "$WORK/stage.out" 2> "$WORK/stage.err" ||
    { cat "$WORK/stage.out" "$WORK/stage.err" >&2; fail "the sample stage failed"; }
  line=$(tail -1 "$WORK/stage.out")
  echo "[e2e-image] stage log: $line"
  jq -e '.event == "imports-ok" and .stage == "e2e-sample" and .helper == "logging_helper"
         and (.versions | length) == 10 and (.problems | length) == 0' <<<"$line" >/dev/null ||
    fail "the sample stage's log line is not the expected imports-ok event"
fi
# The image's venv holds exactly the lock's Python packages at their locked versions (for this machine),
# nothing more and nothing less; pip, setuptools and wheel count only when the lock pins them.
step "check the Python packages are the locked versions (pip freeze in the image)"
$B run --isolation chroot "$container" -- pip freeze --all > "$WORK/freeze-all.txt" ||
  fail "pip freeze in the image"
python3 - "$requirements" "$WORK/freeze-all.txt" "$(uname -m)" <<'PY' || fail "the image's Python packages are not the lock's"
import re, sys
def norm(pin):
    name, _, version = pin.partition("==")
    return re.sub(r"[-_.]+", "-", name).lower() + "==" + version.strip()
lock_path, freeze_path, machine = sys.argv[1:]
locked = set()
for line in open(lock_path):
    if not line[:1].isalnum():
        continue
    pin, _, marker = line.split("\\")[0].partition(";")
    wanted = re.search(r"platform_machine\s*==\s*'([^']+)'", marker)
    if wanted is None or wanted.group(1) == machine:
        locked.add(norm(pin.strip()))
names = {pin.split("==")[0] for pin in locked}
installed = {norm(line.strip()) for line in open(freeze_path) if "==" in line}
installed = {pin for pin in installed if pin.split("==")[0] not in {"pip", "setuptools", "wheel"}
             or pin.split("==")[0] in names}
missing, extra = sorted(locked - installed), sorted(installed - locked)
if missing or extra:
    print(f"[e2e-image] locked but not installed: {missing}; installed but not locked: {extra}", file=sys.stderr)
    sys.exit(1)
print(f"[e2e-image] {len(locked)} Python packages installed at their locked versions ({machine})")
PY
# Every package the plan builds from source is installed at its locked version, and the compilers of
# the build stage stayed there.
mapfile -t built < <(jq -r '.build_from_source[]?' "$WORK/plan.json")
if ((${#built[@]})); then
  step "check the packages built from sdists: ${built[*]}"
  $B run --isolation chroot "$container" -- pip freeze > "$WORK/freeze.txt" ||
    fail "pip freeze in the image"
  for pin in "${built[@]}"; do
    grep -qix "$pin" "$WORK/freeze.txt" || { cat "$WORK/freeze.txt" >&2; fail "$pin is not installed"; }
  done
  if $B run --isolation chroot "$container" -- sh -c 'command -v gcc || command -v cc' >/dev/null 2>&1; then
    fail "a C compiler is in the final image: only the sdist stage should have one"
  fi
  if [[ $IMAGE == fave-vad ]]; then
    $B run --isolation chroot "$container" -- python -c \
      "import webrtcvad; vad = webrtcvad.Vad(3); assert not vad.is_speech(b'\\0' * 320, 16000); print('webrtcvad ok')" ||
      fail "webrtcvad does not work in the image"
  fi
fi
$B rm "$container" >/dev/null

step
printf '[e2e-image] %s\n' "${TIMINGS[@]}"
echo "[e2e-image] OK in $((SECONDS - STARTED))s (cleanup follows)"
