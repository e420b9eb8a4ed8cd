#!/usr/bin/env python3
"""Validate feeds against the published Table Schemas with `frictionless`.

Usage:
    python3 tests/schemas_check.py SCHEMA_DIR FEEDS_DIR

For every source kind KIND with a SCHEMA_DIR/KIND.schema.json, validates
FEEDS_DIR/KIND.csv (the synthetic feeds `outcomesd synth` writes) with the
stock `frictionless` package, reading a file that opens with the '#period'
line with SCHEMA_DIR/dialect-period.json (that line a comment, the header
on line 2) and any other with SCHEMA_DIR/dialect.json; every one must be
valid. Then
validates deliberately broken files, each of which must be refused.

Prints one line per file; exit status 0 if all went as expected, 1 if not,
2 on a usage error or when the package is missing
(`python3 -m pip install frictionless`).

An independent check of outcomesd's published schemas: the reference
Frictionless implementation, not outcomesd's own parser.
"""

import json
import os
import sys
import tempfile


def validate(path, schema_path, schema_dir):
    from frictionless import Dialect, Resource, Schema, system

    # A file that opens with the '#period' line reads with the header on
    # line 2; one without, on line 1.
    with open(path, "rb") as f:
        first = f.read(4).lstrip(b"\xef\xbb\xbf")
    name = "dialect-period.json" if first.startswith(b"#") else "dialect.json"
    dialect_path = os.path.join(schema_dir, name)
    with system.use_context(trusted=True):
        resource = Resource(
            path=path,
            schema=Schema.from_descriptor(schema_path),
            dialect=Dialect.from_descriptor(dialect_path),
        )
        report = resource.validate()
    errors = [(e.type, getattr(e, "field_name", None)) for e in report.tasks[0].errors]
    return report.valid, errors


# (kind, body, error type frictionless must report, field it names)
BROKEN = [
    ("police", "#period 2015-01-01..2015-12-31\nrecord_type,surname,dob,date,disposal\n"
               "arrest,Smith,2001-02-03,2015-02-02,hanged\n", "constraint-error", "disposal"),
    ("police", "#period 2015-01-01..2015-12-31\nsurname,dob,date\nSmith,2001-02-03,2015-02-02\n",
     "missing-label", "record_type"),
    ("education", "#period 2015-09-01..2016-08-31\nrecord_type,upn,term,possible_sessions,"
                  "attended_sessions,authorised_absence,unauthorised_absence\n"
                  "attendance,A123,2015-autumn,140,lots,0,0\n", "type-error", "attended_sessions"),
    ("claims", "case_ref,outcome_id,claim_date\nSF 1!,SUN-1.1,2016-01-01\n",
     "constraint-error", "case_ref"),
    ("case", "case_ref,role,case_start,surname,dob\nSF-1,uncle,2015-01-01,Smith,1980-01-01\n",
     "constraint-error", "role"),
    ("dwp", "#period 2015-01-01..2015-12-31\nrecord_type,ni_number,date,end_date,amount\n"
            "uc_earnings,AB123456C,2015-03-01,31st March,412.50\n", "constraint-error", "end_date"),
]


def main(argv):
    if len(argv) != 3:
        print("usage: python3 tests/schemas_check.py SCHEMA_DIR FEEDS_DIR", file=sys.stderr)
        return 2
    schema_dir, feeds_dir = argv[1], argv[2]
    try:
        import frictionless  # noqa: F401
    except ImportError:
        print("the frictionless package is not installed", file=sys.stderr)
        return 2
    ok = True
    kinds = sorted(f[: -len(".schema.json")] for f in os.listdir(schema_dir)
                   if f.endswith(".schema.json"))
    if not kinds:
        print(f"no schemas in {schema_dir}", file=sys.stderr)
        return 1
    for kind in kinds:
        schema = os.path.join(schema_dir, f"{kind}.schema.json")
        feed = os.path.join(feeds_dir, f"{kind}.csv")
        valid, errors = validate(feed, schema, schema_dir)
        print(f"{kind}.csv: {'VALID' if valid else 'INVALID'} {errors[:5] if errors else ''}")
        ok &= valid
    with tempfile.TemporaryDirectory() as tmp:
        for n, (kind, body, want_type, want_field) in enumerate(BROKEN):
            path = os.path.join(tmp, f"broken{n}.csv")
            with open(path, "w", encoding="utf-8") as f:
                f.write(body)
            schema = os.path.join(schema_dir, f"{kind}.schema.json")
            valid, errors = validate(path, schema, schema_dir)
            hit = (want_type, want_field) in errors
            print(f"broken {kind} ({want_type} {want_field}): "
                  f"{'refused' if not valid else 'ACCEPTED'} {errors[:3]}")
            ok &= (not valid) and hit
    print(json.dumps({"ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
