#!/usr/bin/env python3
"""Validate FHIR R4 JSON files with fhir.resources 6.4.0 (FHIR 4.0.1, pydantic 1).

A third validator, written independently of ihub and of the Node ones: pydantic models
generated from the R4 StructureDefinitions. A Bundle is parsed whole, entries included.

Usage: validate_fhir.py FILE.json...   Prints "OK FILE" or "FAIL FILE" with the reasons;
exits 1 if any file is invalid, 2 on usage errors.
"""

import json
import sys

from fhir.resources import construct_fhir_element
from fhir.resources import __version__ as FHIR_RESOURCES_VERSION


def problems(path):
    """The reasons a file is not a valid R4 resource (empty when it is)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        return ["cannot read JSON: {}".format(e)]
    kind = data.get("resourceType") if isinstance(data, dict) else None
    if not kind:
        return ["no resourceType"]
    try:
        construct_fhir_element(kind, data)
    except Exception as e:  # pydantic ValidationError, or an unknown resource type
        return [line for line in str(e).splitlines() if line.strip()]
    return []


def main(argv):
    if not argv:
        print("usage: validate_fhir.py FILE.json...", file=sys.stderr)
        return 2
    if not FHIR_RESOURCES_VERSION.startswith("6.4."):
        print("fhir.resources {} is not the R4 release 6.4.x".format(FHIR_RESOURCES_VERSION), file=sys.stderr)
        return 2
    failed = 0
    for path in argv:
        found = problems(path)
        if found:
            failed += 1
            print("FAIL {}".format(path))
            for line in found:
                print("  {}".format(line))
        else:
            print("OK {}".format(path))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
