"""The ``kinlatent`` command line."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Sequence

from kinlatent.exceptions import KinlatentError


def _inspect(args: argparse.Namespace) -> int:
    from kinlatent.pipelines.inspect_model import format_summary, inspect_model

    row: str | int | None = args.row
    if row is not None and row.isdigit():
        row = int(row)
    summary = inspect_model(args.model_file, args.state, row=row)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kinlatent", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="summarise a SKiMpy YAML model: structure, steady state, spectrum")
    inspect.add_argument("model_file", help="SKiMpy YAML model file")
    inspect.add_argument("--state", help="state CSV (pyTFA solution or species,concentration in µM); "
                                         "default: tfa_reference_strains.csv beside the model")
    inspect.add_argument("--row", help="row of a pyTFA state file (label or index; default: the model's name)")
    inspect.add_argument("--json", action="store_true", help="print a JSON object")
    inspect.set_defaults(handler=_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except KinlatentError as error:
        print(f"kinlatent: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
