#!/usr/bin/env python3
"""Validate HL7 v2 files strictly with hl7apy (the oracle for tests/oracle_hl7apy.rs).

Usage: hl7apy_validate.py FILE...

Each file holds one message. Line feeds are read as segment terminators, so files written
with `\n` or `\r\n` work too. For each file the script prints `OK <file>` or
`FAIL <file>: <reason>`, and it exits with status 1 if any file failed.
"""

import sys

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

MAX_REASON = 400


def validate(path):
    """Returns None when the file holds a strictly valid message, else the reason it does not."""
    with open(path, "rb") as f:
        raw = f.read()
    # HL7 v2 is byte-oriented; latin-1 maps every byte, so decoding never fails here.
    text = raw.decode("latin-1")
    text = text.replace("\r\n", "\r").replace("\n", "\r").strip("\r")
    try:
        msg = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
        msg.validate()
    except Exception as e:  # hl7apy raises many exception types; all mean "invalid" here
        reason = "{}: {}".format(type(e).__name__, e)
        # Some reasons quote the offending value, which can be a whole embedded document.
        return reason if len(reason) <= MAX_REASON else reason[:MAX_REASON] + "..."
    return None


def main(argv):
    if not argv:
        print("usage: hl7apy_validate.py FILE...", file=sys.stderr)
        return 2
    failed = 0
    for path in argv:
        try:
            reason = validate(path)
        except OSError as e:
            reason = "cannot read: {}".format(e)
        if reason is None:
            print("OK {}".format(path))
        else:
            failed += 1
            print("FAIL {}: {}".format(path, reason))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
