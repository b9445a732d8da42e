"""Command line: ``qoxide demo | bench | hsm | train-ddp-demo`` (also ``python -m qoxide``)."""

from __future__ import annotations

import argparse
import sys

from .hsm.cli import add_parser as add_hsm_parser
from .hsm.cli import run as run_hsm

# these subcommands parse their own options
PASS_THROUGH = ("bench", "train-ddp-demo", "sharded-demo")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qoxide", description="qoxide quantum simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="train the hybrid make_moons classifier with qoxide and time it"
    )
    demo.add_argument("--epochs", type=int, default=6, help="training epochs (default 6)")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sub.add_parser(
        "train-ddp-demo",
        help="train a 4-qubit dressed quantum net data-parallel on 2 processes",
        add_help=False,  # its own parser handles -h and options
    )
    add_hsm_parser(sub)
    sub.add_parser(
        "sharded-demo", help="run the layered circuit sharded on P processes", add_help=False
    )
    sub.add_parser(
        "bench",
        help="benchmark qoxide against PennyLane anchors; writes bench-results/",
        add_help=False,
    )
    args, rest = parser.parse_known_args(argv)
    if rest and args.command not in PASS_THROUGH:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")

    if args.command == "demo":
        if args.epochs < 1:
            parser.error("--epochs must be at least 1")
        from .demo import main as run_demo

        run_demo(epochs=args.epochs, progress=not args.no_progress)
        return 0
    if args.command == "hsm":
        try:
            return run_hsm(args)
        except (FileNotFoundError, ValueError) as e:  # bad paths, data or config: no traceback
            print(f"qoxide hsm: error: {e}", file=sys.stderr)
            return 2
    if args.command == "sharded-demo":
        from .distributed.demo import main as sharded_demo

        return sharded_demo(rest)
    if args.command == "train-ddp-demo":
        from .train.ddp_demo import main as ddp_demo

        return ddp_demo(rest)
    from .bench import main as run_bench

    return run_bench(rest)


if __name__ == "__main__":
    sys.exit(main())
