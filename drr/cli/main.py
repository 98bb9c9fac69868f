"""The ``drr`` command: one sub-command per module in this package.

Each sub-command module exposes ``add_parser(subparsers)``, which registers its
parser and sets ``func`` (a callable taking the parsed arguments and returning
an exit status).  Errors that drr raises on purpose (``DRRError``) are printed
as one line on stderr, without a traceback, and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import DRRError

#: Sub-command modules, in the order ``drr --help`` lists them.
SUBCOMMANDS = ["render", "demo", "info", "strips"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drr",
        description="Exact perspective DRRs (digitally reconstructed radiographs) from CT, "
                    "and the tools around them. Units: mm; world frame: DICOM patient LPS.",
    )
    parser.add_argument("--version", action="version", version=f"drr {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__package__}.{name}").add_parser(sub)
    return parser


def _version() -> str:
    from .. import __version__
    return __version__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DRRError as exc:
        print(f"drr {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"drr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
