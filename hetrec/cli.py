"""Command-line entry points: the Hydra app ``hetrec-train`` and the ``hetrec`` command.

Each subcommand lives with its stage (``hetrec.registry``, ``hetrec.serve.commands``) and is imported lazily, so that
``hetrec plugins`` does not pay for loading the serving stack.
"""

from __future__ import annotations

import argparse
import sys


def unknown_encoder_message(argv: list[str]) -> str | None:
    """The registry's error (installed names, the reinstall hint) for an ``encoder=<name>`` override naming no
    installed encoder; ``None`` when every named encoder is installed or the override is not a plain list of names.
    Hydra alone would say only "Could not find 'encoder/<name>'"."""
    import re

    from hetrec import registry

    for arg in argv:
        m = re.fullmatch(r"\+{0,2}encoder=([\w-]+(?:,[\w-]+)*)", arg)
        if not m:
            continue
        for name in m.group(1).split(","):
            try:
                registry.encoder_info(name)
            except registry.UnknownEncoderError as e:
                return f"hetrec-train: {e}"
    return None


def train_main() -> None:
    """``hetrec-train [hydra overrides] [--debug]``: train an encoder (see ``hetrec.train.app``)."""
    message = unknown_encoder_message(sys.argv[1:])
    if message:
        print(message, file=sys.stderr)
        sys.exit(2)
    import hetrec.dist.modes  # noqa: F401 (registers train.mode=partition|distributed)
    from hetrec.train.app import main as app_main

    app_main()


def _plugins(args: argparse.Namespace) -> int:
    from hetrec.registry import describe_plugins

    print(describe_plugins(as_json=args.json))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hetrec", description="hetrec: recommendations and product associations")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of errors (anywhere on the command line; or HETREC_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("plugins", help="list installed encoders: name, package, version, config")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_plugins)
    try:
        from hetrec.serve.commands import add_commands
    except ImportError as e:  # the serving stack is optional at import time; say why it is missing
        if getattr(e, "name", "") != "hetrec.serve.commands":
            raise
    else:
        add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``hetrec COMMAND ...``. A user error (`hetrec.errors.HetrecError`: unknown id, bad argument, damaged artifact,
    plugin conflict) prints ``error: <message>`` and returns 2; ``--debug`` (anywhere) or ``HETREC_DEBUG=1`` raises it
    with its traceback instead. Other exceptions keep their traceback."""
    import os

    from hetrec.errors import DEBUG_ENV, EXIT_USER_ERROR, HetrecError, debug_enabled

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in argv:
        argv = [a for a in argv if a != "--debug"]
        os.environ[DEBUG_ENV] = "1"
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HetrecError as e:
        if debug_enabled():
            raise
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
