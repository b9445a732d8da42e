"""Checkpoint files: written atomically, so a crash at any instant leaves either the previous
complete checkpoint or the new one on disk, never a torn file.

The state goes to a temporary file in the same directory, is flushed and fsynced, and then
``os.replace``-d over ``checkpoint.pt`` (atomic on POSIX within one filesystem); the
directory is fsynced so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_NAME = "checkpoint.pt"
_TMP_PREFIX, _TMP_SUFFIX = ".checkpoint-", ".tmp"


def checkpoint_path(directory: str | os.PathLike[str]) -> Path:
    return Path(directory) / CHECKPOINT_NAME


def save_checkpoint(directory: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Atomically write ``state`` as ``directory/checkpoint.pt``; returns its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = checkpoint_path(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final


def load_checkpoint(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The last complete checkpoint in ``directory``, or None if there is none."""
    path = checkpoint_path(directory)
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def remove_stale_temporaries(directory: str | os.PathLike[str]) -> None:
    """Delete temporary files left by a process killed while writing a checkpoint."""
    for p in Path(directory).glob(f"{_TMP_PREFIX}*{_TMP_SUFFIX}"):
        p.unlink(missing_ok=True)
