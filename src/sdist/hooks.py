# Runs one PEP 517 hook of a source tree's build backend, inside the isolated build environment that
# fave-lock made for it. Written by fave-lock (src/sdist/hooks.py); arguments:
#   hooks.py requires SRC OUT BACKEND BACKEND_PATH_JSON   -> OUT/result.json: the extra build requirements
#   hooks.py metadata SRC OUT BACKEND BACKEND_PATH_JSON   -> OUT/result.json: {"dist-info": name} or {"wheel": name}
#   hooks.py requires+metadata SRC OUT BACKEND BACKEND_PATH_JSON
#       -> OUT/requires.json as `requires` gives it, then, only when it is empty, OUT/result.json as `metadata`
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


def keep_the_environments_bytecode():
    """Let the build environment's modules keep their bytecode, even under PYTHONDONTWRITEBYTECODE.

    The environment is fave-lock's own cache folder, shared by every build that needs the same requirements,
    and each hook is a new process: without bytecode every one of them compiles setuptools again (0.37 s
    against 0.13 s to import `setuptools.build_meta` here). Only files under `sys.prefix` (the environment)
    get it: the user's wish for no bytecode still holds for the interpreter's own library.
    """
    if not sys.dont_write_bytecode:
        return
    try:
        from importlib.machinery import SourceFileLoader

        write = SourceFileLoader._cache_bytecode
    except (ImportError, AttributeError):
        return
    environment = os.path.join(sys.prefix, "")

    def cache_bytecode(self, source_path, bytecode_path, data):
        if source_path.startswith(environment):
            return write(self, source_path, bytecode_path, data)
        return None

    SourceFileLoader._cache_bytecode = cache_bytecode
    sys.dont_write_bytecode = False


def requires(backend):
    get_requires = getattr(backend, "get_requires_for_build_wheel", None)
    return list(get_requires({}) if get_requires else [])


def metadata(backend, out):
    prepare = getattr(backend, "prepare_metadata_for_build_wheel", None)
    if prepare is not None:
        return {"dist-info": prepare(out, {})}
    return {"wheel": backend.build_wheel(out, {})}


def answer(out, name, result):
    with open(os.path.join(out, name), "w") as file:
        json.dump(result, file)


def main():
    hook, source, out, spec, backend_path = sys.argv[1:6]
    keep_the_environments_bytecode()
    os.chdir(source)
    backend = load_backend(spec, json.loads(backend_path))
    if hook == "requires":
        answer(out, "result.json", requires(backend))
    elif hook == "metadata":
        answer(out, "result.json", metadata(backend, out))
    elif hook == "requires+metadata":
        # Most backends ask for nothing on top of the environment: then the metadata hook runs in this
        # same process, which saves a Python start and the backend's import (about half of a build
        # with a ready environment). Written before the metadata hook runs, so that fave-lock knows,
        # should that hook fail here, that it may run it again alone in a fresh process.
        extra = requires(backend)
        answer(out, "requires.json", extra)
        if not extra:
            answer(out, "result.json", metadata(backend, out))
    else:
        raise SystemExit("unknown hook " + hook)


main()
