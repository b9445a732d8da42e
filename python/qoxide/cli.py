"""Command line: ``qoxide demo``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qoxide", description="qoxide quantum simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run a batched circuit and its gradient, with timings")
    demo.add_argument("--iterations", type=int, default=200, help="timed forward+backward runs")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from .demo import main as run_demo

        run_demo(iterations=args.iterations, progress=not args.no_progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
