#!/usr/bin/env python3
"""Validate CycloneDX JSON files the way the ecosystem's own libraries read them.

1. The official CycloneDX 1.5 JSON schema, through cyclonedx-python-lib's strict JSON validator (the
   schema files ship inside that package).
2. Every package URL in the document (the image, every component, nested ones included) through
   packageurl-python: `PackageURL.from_string(purl).to_string()` must give the purl back unchanged, so a
   scanner that parses and re-serialises it (as Dependency-Track and cyclonedx-py do) matches it.

Both are installed in the tools venv by scripts/setup/test-env.sh:

    .venv/tools/bin/python scripts/test/validate-sbom.py locks/fave-base/sbom.cdx.json

Prints, per valid file, `FILE: valid CycloneDX 1.5; N purls round-trip through packageurl-python`.
Prints every error and exits 1 when a file is invalid, 2 when a validator is missing or a file cannot
be read, 0 when every file is valid.
"""

import json
import sys


def purls(document: dict) -> list[str]:
    """Every `purl` of the image component and of every component, depth first."""
    found = []
    stack = [document.get("metadata", {}).get("component") or {}]
    stack.extend(document.get("components") or [])
    while stack:
        component = stack.pop()
        if "purl" in component:
            found.append(component["purl"])
        stack.extend(component.get("components") or [])
    return found


def purl_errors(document: dict, package_url) -> tuple[int, list[str]]:
    """How many purls there are, and one message per purl that does not round-trip."""
    errors = []
    listed = purls(document)
    for purl in listed:
        try:
            again = package_url.from_string(purl).to_string()
        except ValueError as error:
            errors.append(f"purl `{purl}` does not parse: {error}")
            continue
        if again != purl:
            errors.append(f"purl `{purl}` reads back as `{again}`")
    return len(listed), errors


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: validate-sbom.py FILE.cdx.json...", file=sys.stderr)
        return 2
    try:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
        from packageurl import PackageURL
    except ImportError as error:
        print(
            f"validate-sbom: cyclonedx-python-lib[json-validation] or packageurl-python is not "
            f"installed ({error}); run scripts/setup/test-env.sh and use .venv/tools/bin/python",
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
        errors = [str(error) for error in errors] if errors is not None else []
        count = 0
        if not errors:
            count, errors = purl_errors(json.loads(text), PackageURL)
        if errors:
            status = 1
            for error in errors:
                print(f"{path}: {error}", file=sys.stderr)
        else:
            print(f"{path}: valid CycloneDX 1.5; {count} purls round-trip through packageurl-python")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
