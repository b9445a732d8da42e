"""Issue 16 item 11: a damaged checkpoint is refused with a one-line error naming the file,
never loaded (a flipped byte used to resume with different weights)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from qoxide.train import load_checkpoint, save_checkpoint
from qoxide.train.checkpoint import checkpoint_path
from train_scripts import resumable_fit


def _expect_refused(directory: Path, *match: str) -> None:
    with pytest.raises(ValueError) as info:
        load_checkpoint(directory)
    message = str(info.value)
    assert "\n" not in message, message
    assert str(checkpoint_path(directory)) in message, message
    for m in match:
        assert m in message, message


def test_round_trip(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, {"epoch": 3, "w": torch.arange(5.0)})
    saved = load_checkpoint(tmp_path)
    assert saved["epoch"] == 3 and torch.equal(saved["w"], torch.arange(5.0))


@pytest.mark.parametrize("where", [0.3, 0.5, 0.9, -1])
def test_one_flipped_byte_is_refused(tmp_path: Path, where: float) -> None:
    save_checkpoint(tmp_path, {"epoch": 3, "w": torch.arange(64.0)})
    path = checkpoint_path(tmp_path)
    data = bytearray(path.read_bytes())
    i = len(data) - 1 if where == -1 else int(len(data) * where)
    data[i] ^= 0x01
    path.write_bytes(bytes(data))
    _expect_refused(tmp_path, "checksum")


def test_truncated_empty_and_foreign_files_are_refused(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, {"epoch": 3, "w": torch.arange(64.0)})
    path = checkpoint_path(tmp_path)
    whole = path.read_bytes()
    for size in (len(whole) - 1, len(whole) // 2, 40, 10, 3):
        path.write_bytes(whole[:size])
        _expect_refused(tmp_path, "truncated")
    path.write_bytes(b"")
    _expect_refused(tmp_path, "empty")
    path.write_text("epoch,loss\n0,1.0\n")
    _expect_refused(tmp_path, "not a qoxide checkpoint")
    torch.save({"epoch": 1}, path)  # a plain torch file has no checksum to verify
    _expect_refused(tmp_path, "not a qoxide checkpoint")
    path.unlink()
    path.mkdir()
    _expect_refused(tmp_path, "not a file")


@pytest.mark.parametrize("next_epoch", [101, -5, 0, "2", None])
def test_resume_refuses_out_of_range_next_epoch(tmp_path: Path, next_epoch: object) -> None:
    trainer, train, val = resumable_fit.build(tmp_path)
    trainer.max_epochs = 2
    trainer.fit(train, val_loader=val, seed=5)
    state = load_checkpoint(tmp_path)
    state["next_epoch"] = next_epoch
    save_checkpoint(tmp_path, state)

    trainer, train, val = resumable_fit.build(tmp_path)
    with pytest.raises(ValueError) as info:
        trainer.fit(train, val_loader=val, seed=5, resume=True)
    message = str(info.value)
    assert "next_epoch" in message and str(checkpoint_path(tmp_path)) in message, message
    assert "\n" not in message


def test_resume_refuses_a_corrupted_checkpoint_before_training(tmp_path: Path) -> None:
    trainer, train, val = resumable_fit.build(tmp_path)
    trainer.max_epochs = 1
    trainer.fit(train, val_loader=val, seed=5)
    path = checkpoint_path(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    trainer, train, val = resumable_fit.build(tmp_path)
    with pytest.raises(ValueError, match="checksum"):
        trainer.fit(train, val_loader=val, seed=5, resume=True)
