"""``qoxide hsm train`` / ``qoxide hsm predict``: HSMs on CSV files from a JSON config.

    qoxide hsm train data.csv --config config.json --out runs/hsm
    qoxide hsm predict runs/hsm data.csv --out predictions.csv

Kept import-light: torch, pandas and pydantic load only when a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``hsm`` command (with ``train`` and ``predict``) to a subparsers object."""
    hsm = subparsers.add_parser(
        "hsm", help="train and apply Hilbert Space Models on tabular data (CSV)"
    )
    sub = hsm.add_subparsers(dest="hsm_command", required=True)
    train = sub.add_parser(
        "train",
        help="train from a Qcog-style JSON config; writes the model, history and metrics",
    )
    train.add_argument("data", type=Path, help="CSV file with feature and target columns")
    train.add_argument("--config", type=Path, required=True, help="JSON config (hsm_model, ...)")
    train.add_argument("--out", type=Path, required=True, help="directory for the trained model")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    predict = sub.add_parser("predict", help="predict the targets of a CSV with a trained model")
    predict.add_argument("model_dir", type=Path, help="directory written by `qoxide hsm train`")
    predict.add_argument("data", type=Path, help="CSV file with the model's input columns")
    predict.add_argument("--out", type=Path, help="CSV file for the predictions (default: stdout)")
    return hsm


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``hsm`` command; returns the exit status."""
    if args.hsm_command == "train":
        return _train(args)
    return _predict(args)


def _train(args: argparse.Namespace) -> int:
    from .config import parse_config
    from .training import fit

    # Everything that can be checked is checked before training, not after it.
    try:
        config = parse_config(args.config)
    except ValueError as err:
        raise ValueError(f"--config {args.config}: {err}") from None
    _check_writable(args.out)
    result = fit(args.data, config, progress=not args.no_progress)
    out = result.model.save(args.out)
    (out / "history.json").write_text(
        json.dumps({"train": result.train_history, "val": result.val_history}, indent=2) + "\n"
    )
    (out / "metrics.json").write_text(json.dumps(result.test_metrics, indent=2) + "\n")
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in result.test_metrics.items())
    print(f"trained {len(result.train_history)} epochs in {result.execution_time:.1f}s")
    print(f"test: {metrics}")
    print(f"saved to {out}")
    return 0


def _check_writable(out: Path) -> None:
    """Create ``out`` and write a probe file there, so an unwritable ``--out`` is reported
    before training instead of after it."""
    import tempfile

    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise ValueError(
            f"--out {out}: cannot write the model there ({err.strerror or err}); "
            "choose a writable directory"
        ) from None


def _predict(args: argparse.Namespace) -> int:
    import pandas as pd

    from .training import load

    model = load(args.model_dir)
    predictions = model.predict(pd.read_csv(args.data))
    if args.out is None:
        predictions.to_csv(sys.stdout, index=False)
    else:
        predictions.to_csv(args.out, index=False)
        print(f"wrote {len(predictions)} predictions to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry: ``python -m qoxide.hsm.cli train ...``."""
    parser = argparse.ArgumentParser(prog="qoxide")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(["hsm", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
