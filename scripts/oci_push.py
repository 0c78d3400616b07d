#!/usr/bin/env python3
"""Push small, real, reproducible OCI images to a loopback registry through the distribution API.

Used by scripts/bench-serve.sh (and handy by hand). Standard library only. Each image has one layer (a
tar holding /etc/fave-image with the image's name and platform, gzip with mtime 0) and a config with
fixed `created` and the given labels, so the same arguments always give the same digests.

  oci_push.py 127.0.0.1:5000 fave-base --tags 1.0 latest --platforms linux/amd64 linux/arm64 \
      --label io.fave.lock.sha256=abc...
  oci_push.py 127.0.0.1:5000 big --tags $(seq -f 't%g' 1000)      # one manifest, many tags

Several platforms make an OCI index; one makes a plain image manifest. Prints a JSON summary with the
registry's Docker-Content-Digest of every pushed manifest.
"""

import argparse
import gzip
import hashlib
import http.client
import io
import json
import sys
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def layer_for(text: str) -> tuple[bytes, bytes]:
    """(uncompressed tar, gzip) of one file, reproducible."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        data = text.encode()
        info = tarfile.TarInfo("etc/fave-image")
        info.size, info.mtime, info.mode, info.uid, info.gid = len(data), 0, 0o644, 0, 0
        tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0) as gz:
        gz.write(tar_bytes)
    return tar_bytes, compressed.getvalue()


class Registry:
    def __init__(self, authority: str):
        host, _, port = authority.rpartition(":")
        if host not in ("127.0.0.1", "localhost", "[::1]"):
            sys.exit(f"oci_push.py: refusing non-loopback registry {authority}")
        self.conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=30)

    def request(self, method, path, body=None, headers=None):
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        data = response.read()
        if response.status >= 300:
            sys.exit(f"oci_push.py: {method} {path} -> {response.status} {data[:300]!r}")
        return response, data

    def push_blob(self, repo: str, data: bytes) -> str:
        d = digest(data)
        self.conn.request("HEAD", f"/v2/{repo}/blobs/{d}")
        head = self.conn.getresponse()
        head.read()
        if head.status == 200:
            return d
        response, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/", b"", {"Content-Length": "0"})
        location = response.getheader("Location")
        if location.startswith("http"):
            location = "/" + location.split("/", 3)[3]
        sep = "&" if "?" in location else "?"
        self.request("PUT", f"{location}{sep}digest={d}", data,
                     {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
        return d

    def push_manifest(self, repo: str, tag: str, media_type: str, data: bytes) -> str:
        response, _ = self.request("PUT", f"/v2/{repo}/manifests/{tag}", data,
                                   {"Content-Type": media_type, "Content-Length": str(len(data))})
        return response.getheader("Docker-Content-Digest")


def image(registry: Registry, repo: str, platform: str, labels: dict, created: str) -> tuple[bytes, dict]:
    os_name, arch, *variant = platform.split("/")
    tar_bytes, layer = layer_for(f"{repo} {platform}\n")
    config = {
        "architecture": arch, "os": os_name, "created": created,
        "config": {"Labels": labels, "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [digest(tar_bytes)]},
        "history": [{"created": created, "created_by": "oci_push.py"}],
    }
    if variant:
        config["variant"] = variant[0]
    config_bytes = canonical(config)
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": registry.push_blob(repo, config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": registry.push_blob(repo, layer), "size": len(layer)}],
    }
    platform_obj = {"os": os_name, "architecture": arch}
    if variant:
        platform_obj["variant"] = variant[0]
    return canonical(manifest), platform_obj


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("registry", help="HOST:PORT on loopback")
    parser.add_argument("repo")
    parser.add_argument("--tags", nargs="+", required=True)
    parser.add_argument("--platforms", nargs="+", default=["linux/amd64"])
    parser.add_argument("--label", action="append", default=[], help="KEY=VALUE (repeatable)")
    parser.add_argument("--created", default="2026-11-01T00:00:00Z")
    args = parser.parse_args()
    labels = dict(item.split("=", 1) for item in args.label)
    registry = Registry(args.registry)
    manifests = [(image(registry, args.repo, p, labels, args.created)) for p in args.platforms]
    pushed = {}
    if len(manifests) == 1:
        body, media_type = manifests[0][0], OCI_MANIFEST
    else:
        entries = []
        for body, platform in manifests:
            child = registry.push_manifest(args.repo, digest(body), OCI_MANIFEST, body)
            pushed[platform["architecture"]] = child
            entries.append({"mediaType": OCI_MANIFEST, "digest": child, "size": len(body),
                            "platform": platform})
        body, media_type = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}), OCI_INDEX
    tags = {tag: registry.push_manifest(args.repo, tag, media_type, body) for tag in args.tags}
    first = next(iter(tags.values()))
    print(json.dumps({"repo": args.repo, "digest": first, "tags": len(tags), "platforms": pushed}))


if __name__ == "__main__":
    main()
