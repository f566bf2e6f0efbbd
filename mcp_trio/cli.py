"""The ``mcp-trio`` command.

The command line is a stable contract: subcommands and flags are only ever added, never renamed.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

import trio

from mcp_trio import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-trio", description="MCP server and client on Trio.")
    parser.add_argument("--version", action="version", version=f"mcp-trio {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run an MCP server (the built-in demo server by default)")
    serve.add_argument(
        "target",
        nargs="?",
        metavar="module:attribute",
        help="the Server object to serve; without it, the built-in demo server",
    )
    serve.add_argument("--stdio", action="store_true", help="serve on stdin/stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from mcp_trio._minimal_stdio import serve_stdio

        print("mcp-trio: serving the demo server on stdio", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            trio.run(serve_stdio)
