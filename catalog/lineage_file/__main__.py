"""``python -m catalog.lineage_file``: validate lineage files or print the JSON Schema.

Why: a check a data scientist can run before committing lineage.yml, and the one
command that regenerates docs/lineage.schema.json.
"""

from __future__ import annotations

import argparse
import sys

from catalog.config import Settings
from catalog.errors import LineageFileError
from catalog.lineage_file import load_lineage_file
from catalog.lineage_file.schema import schema_json


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 valid, 2 invalid)."""
    parser = argparse.ArgumentParser(
        prog="python -m catalog.lineage_file",
        description="Validate lineage.yml files, or print their JSON Schema.",
    )
    parser.add_argument("--schema", action="store_true", help="print the JSON Schema and exit")
    parser.add_argument(
        "--classifications",
        default=None,
        help="comma-separated known classification names; others are errors (default: not checked)",
    )
    parser.add_argument("files", nargs="*", help="lineage files to validate")
    args = parser.parse_args(argv)
    if args.schema:
        sys.stdout.write(schema_json())
        return 0
    if not args.files:
        parser.error("give lineage files to validate, or --schema")
    known = None if args.classifications is None else {c.strip() for c in args.classifications.split(",") if c.strip()}
    max_bytes = Settings.from_env().max_lineage_file_bytes
    status = 0
    for path in args.files:
        try:
            doc = load_lineage_file(path, max_bytes=max_bytes, known_classifications=known)
        except LineageFileError as exc:
            print(exc, file=sys.stderr)
            status = LineageFileError.exit_code
            continue
        print(
            f"{path}: ok ({doc.form} form: {len(doc.datasets)} datasets, {len(doc.models)} models, "
            f"{len(doc.deployments)} deployments)"
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
