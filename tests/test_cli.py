"""The console script: `qoxide demo` (README's main job) and `qoxide bench`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from qoxide.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qoxide", *args], capture_output=True, text=True, timeout=300
    )


def test_demo_trains_the_moons_model_and_reports():
    p = run("demo", "--epochs", "1", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert "epoch 1: average loss" in p.stdout
    assert "accuracy" in p.stdout and "training time" in p.stdout


def test_demo_learns(capsys):
    from qoxide.demo import train_moons

    result = train_moons(epochs=6, progress=False, log=None)
    assert result["losses"][-1] < result["losses"][0]
    assert result["accuracy"] > 0.8  # seed 003's model reaches ~85% in 6 epochs


def test_bench_writes_results(tmp_path):
    out = tmp_path / "res"
    argv = [
        "bench",
        "--quick",
        "--workloads",
        "layered,moons",
        "--forward-sizes",
        "6",
        "--jacobian-sizes",
        "6",
        "--out",
        str(out),
    ]
    p = run(*argv)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    impls = {(r["workload"], r["impl"]) for r in rows}
    assert ("layered forward", "qoxide") in impls and ("adjoint jacobian", "qoxide") in impls
    assert ("moons training", "qoxide") in impls
    for r in rows:
        assert r["seconds"] > 0 and r["qoxide_speedup"] > 0
        if r["impl"] == "qoxide":
            assert r["qoxide_speedup"] == 1.0
    assert "| workload |" in (out / "results.md").read_text()
    pytest.importorskip("matplotlib")
    assert (out / "results.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--epochs", "0"],
        ["demo", "--bogus"],
        ["bench", "--workloads", "nope"],
        ["bench", "--forward-sizes", "a,b"],
        [],
    ],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
