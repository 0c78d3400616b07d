"""The lock's two halves for base-image/Dockerfile's two stages. Standard library only: it runs on the
base image's own python3 before anything is installed.

  split-lock.py split LOCK OUT NAME...   write OUT/wheels.txt (every entry of LOCK but NAME...) and
                                         OUT/sdists.txt (NAME...: pinned by their sdist's hash)
  split-lock.py pin-built WHEELS         print `name==version --hash=sha256:...` for each wheel built from
                                         those sdists, so the final stage installs them with
                                         --require-hashes too (the sdist's hash was checked by the build)

An entry of a fave-lock requirements.txt is `name==version` (maybe with a marker) and its `--hash`
continuation lines; `#` lines are annotations.
"""
import hashlib
import os
import re
import sys


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(text):
    """Each entry as its logical text (continuations joined), comments dropped."""
    current = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not line[0].isspace() and current:
            yield " ".join(current)
            current = []
        current.append(stripped.rstrip("\\").strip())
    if current:
        yield " ".join(current)


def split(lock, out, names):
    wanted = {normalize(name) for name in names}
    halves = {"wheels.txt": [], "sdists.txt": []}
    for entry in entries(open(lock, encoding="utf-8").read()):
        name = normalize(re.split(r"[=<>!~;\[ ]", entry, maxsplit=1)[0])
        halves["sdists.txt" if name in wanted else "wheels.txt"].append(entry)
        wanted.discard(name)
    if wanted:
        sys.exit("split-lock: not in the lock: " + ", ".join(sorted(wanted)))
    os.makedirs(out, exist_ok=True)
    for file_name, lines in halves.items():
        with open(os.path.join(out, file_name), "w", encoding="utf-8") as half:
            half.writelines(line + "\n" for line in lines)


def pin_built(folder):
    for file_name in sorted(os.listdir(folder)):
        if not file_name.endswith(".whl"):
            continue
        name, version = file_name.split("-")[:2]
        with open(os.path.join(folder, file_name), "rb") as wheel:
            digest = hashlib.sha256(wheel.read()).hexdigest()
        print(f"{normalize(name)}=={version} --hash=sha256:{digest}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["split"] and len(sys.argv) >= 4:
        split(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif sys.argv[1:2] == ["pin-built"] and len(sys.argv) == 3:
        pin_built(sys.argv[2])
    else:
        sys.exit(__doc__)
