#!/usr/bin/env python3
"""Validate CycloneDX JSON files against the official CycloneDX 1.5 JSON schema.

Uses cyclonedx-python-lib's strict JSON validator (the schema files ship inside that package), as
installed in the tools venv by scripts/setup-test-env.sh:

    .venv/tools/bin/python scripts/validate-sbom.py locks/fave-base/sbom.cdx.json

Prints every schema error and exits 1 when a file is invalid, 2 when the validator is missing or a file
cannot be read, 0 when every file is valid.
"""

import sys


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: validate-sbom.py FILE.cdx.json...", file=sys.stderr)
        return 2
    try:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
    except ImportError as error:
        print(
            f"validate-sbom: cyclonedx-python-lib[json-validation] is not installed ({error}); "
            "run scripts/setup-test-env.sh and use .venv/tools/bin/python",
            file=sys.stderr,
        )
        return 2
    validator = JsonStrictValidator(SchemaVersion.V1_5)
    status = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read()
        except OSError as error:
            print(f"{path}: cannot read: {error}", file=sys.stderr)
            return 2
        errors = validator.validate_str(text, all_errors=True)
        errors = list(errors) if errors is not None else []
        if errors:
            status = 1
            for error in errors:
                print(f"{path}: {error}", file=sys.stderr)
        else:
            print(f"{path}: valid CycloneDX 1.5")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
