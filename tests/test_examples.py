"""The examples run end to end (shortened) and report what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(script: str, *args: str, cwd: Path) -> str:
    p = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_moons_hybrid(tmp_path):
    out = run("moons_hybrid.py", "--epochs", "1", cwd=tmp_path)
    assert "epoch 1: average loss" in out and "accuracy" in out


def test_transfer_learning(tmp_path):
    pytest.importorskip("sklearn")
    out = run("transfer_learning.py", "--epochs", "2", "--png", "pred.png", cwd=tmp_path)
    acc = float(out.split("best validation accuracy")[1].split(";")[0])
    assert acc > 0.75, out  # two epochs on frozen features already separate 8 from 9
    if "saved sample predictions" in out:
        assert (tmp_path / "pred.png").stat().st_size > 1000


def test_regression_torch_runtime(tmp_path):
    out = run("regression_torch_runtime.py", "--epochs", "5", cwd=tmp_path)
    assert "epoch 4: train loss" in out
    r2 = float(out.split("validation R^2:")[1])
    assert r2 > 0.8, out  # the 1-qubit model fits the noisy sine


def test_moons_from_pennylane(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("pennylane")
    out = run("moons_from_pennylane.py", cwd=tmp_path)
    assert out.count("Average loss over epoch") == 6 and "Accuracy" in out, out
