"""Trainer checkpoints: atomic writes, exact resume after SIGKILL, and resume errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from qoxide.train import EarlyStopping, load_checkpoint, save_checkpoint
from train_scripts import resumable_fit

SCRIPT = Path(__file__).parent / "train_scripts" / "resumable_fit.py"


def _assert_same_run(a, b) -> None:  # noqa: ANN001
    assert a.model_state_dict.keys() == b.model_state_dict.keys()
    for k in a.model_state_dict:
        assert torch.equal(a.model_state_dict[k], b.model_state_dict[k]), k
    for ha, hb in ((a.train_history, b.train_history), (a.val_history, b.val_history)):
        assert [h["epoch"] for h in ha] == [h["epoch"] for h in hb]
        assert [h["loss"] for h in ha] == [h["loss"] for h in hb]


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_run(tmp_path) -> None:
    reference = resumable_fit.run(checkpoint_dir=None)
    assert [h["epoch"] for h in reference.train_history] == [0, 1, 2, 3]
    # EarlyStopping restores the best epoch's weights: make sure that is the last one, so the
    # comparison covers the epochs trained after the resume
    val = [h["loss"] for h in reference.val_history]
    assert min(val) == val[-1]

    ckpt, marker = tmp_path / "ckpt", tmp_path / "hanging"
    steps = resumable_fit.SAMPLES // resumable_fit.BATCH
    hang_at = 2 * steps + 2  # epoch 2, after two of its steps have updated the weights
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(ckpt), "--hang-at", str(hang_at), str(marker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(f"training script exited early:\n{proc.stdout.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("training script did not reach the hang step in 120 s")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    saved = load_checkpoint(ckpt)
    assert (saved["epoch"], saved["next_epoch"], saved["global_step"]) == (1, 2, 2 * steps)
    assert [p.name for p in ckpt.iterdir()] == ["checkpoint.pt"]

    resumed = resumable_fit.run(checkpoint_dir=ckpt)
    _assert_same_run(resumed, reference)
    # a finished run resumes to the same result without training further
    _assert_same_run(resumable_fit.run(checkpoint_dir=ckpt), reference)


def test_resume_refuses_a_different_seed_or_hooks(tmp_path) -> None:
    trainer, train, val = resumable_fit.build(tmp_path)
    trainer.max_epochs = 1
    trainer.fit(train, val_loader=val, seed=5)

    trainer, train, val = resumable_fit.build(tmp_path)
    with pytest.raises(ValueError, match="seed=6.*seed=5"):
        trainer.fit(train, val_loader=val, seed=6, resume=True)

    trainer, train, val = resumable_fit.build(tmp_path)
    trainer.hooks = [h for h in trainer.hooks if not isinstance(h, EarlyStopping)]
    with pytest.raises(ValueError, match="same hooks"):
        trainer.fit(train, val_loader=val, resume=True)

    trainer, train, val = resumable_fit.build(None)
    with pytest.raises(ValueError, match="checkpoint_dir"):
        trainer.fit(train, resume=True)


def test_resume_without_a_checkpoint_starts_fresh(tmp_path) -> None:
    stale = tmp_path / ".checkpoint-abc.tmp"  # left by a process killed while writing
    stale.write_bytes(b"torn")
    result = resumable_fit.run(checkpoint_dir=tmp_path)
    assert [h["epoch"] for h in result.train_history] == [0, 1, 2, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


class _Unpicklable:
    def __reduce__(self):  # noqa: ANN204
        raise RuntimeError("cannot pickle this")


def test_failed_write_keeps_the_previous_checkpoint(tmp_path) -> None:
    save_checkpoint(tmp_path, {"epoch": 1, "w": torch.ones(3)})
    with pytest.raises(RuntimeError, match="cannot pickle"):
        save_checkpoint(tmp_path, {"epoch": 2, "w": torch.zeros(3), "bad": _Unpicklable()})
    saved = load_checkpoint(tmp_path)
    assert saved["epoch"] == 1 and torch.equal(saved["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
