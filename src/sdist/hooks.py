# Runs one PEP 517 hook of a source tree's build backend, inside the isolated build environment that
# fave-lock made for it. Written by fave-lock (src/sdist/hooks.py); arguments:
#   hooks.py requires SRC OUT BACKEND BACKEND_PATH_JSON   -> OUT/result.json: the extra build requirements
#   hooks.py metadata SRC OUT BACKEND BACKEND_PATH_JSON   -> OUT/result.json: {"dist-info": name} or {"wheel": name}
# The backend's own output goes to stdout/stderr (the build log); the answer goes to a file, so that a
# setup.py that prints cannot corrupt it.
import importlib
import json
import os
import sys


def load_backend(spec, backend_path):
    if backend_path:
        sys.path[:0] = [os.path.abspath(path) for path in backend_path]
    module_name, _, attribute = spec.partition(":")
    backend = importlib.import_module(module_name)
    for part in attribute.split(".") if attribute else []:
        backend = getattr(backend, part)
    return backend


def main():
    hook, source, out, spec, backend_path = sys.argv[1:6]
    os.chdir(source)
    backend = load_backend(spec, json.loads(backend_path))
    if hook == "requires":
        get_requires = getattr(backend, "get_requires_for_build_wheel", None)
        result = list(get_requires({}) if get_requires else [])
    elif hook == "metadata":
        prepare = getattr(backend, "prepare_metadata_for_build_wheel", None)
        if prepare is not None:
            result = {"dist-info": prepare(out, {})}
        else:
            result = {"wheel": backend.build_wheel(out, {})}
    else:
        raise SystemExit("unknown hook " + hook)
    with open(os.path.join(out, "result.json"), "w") as answer:
        json.dump(result, answer)


main()
