"""Checkpoint files: written atomically, so a crash at any instant leaves either the previous
complete checkpoint or the new one on disk, never a torn file.

The state goes to a temporary file in the same directory, is flushed and fsynced, and then
``os.replace``-d over ``checkpoint.pt`` (atomic on POSIX within one filesystem); the
directory is fsynced so the rename itself survives a power cut.

The file is ``MAGIC``, the SHA-256 of the payload and the payload (``torch.save`` bytes), so
a flipped bit, a truncated copy or a foreign file is refused with a :class:`CheckpointError`
naming the file instead of resuming with other weights.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_NAME = "checkpoint.pt"
_TMP_PREFIX, _TMP_SUFFIX = ".checkpoint-", ".tmp"
MAGIC = b"QOXIDE-CHECKPOINT-1\n"
_DIGEST = 32  # SHA-256


class CheckpointError(ValueError):
    """A checkpoint file that cannot be trusted: damaged, truncated or not a checkpoint."""


def checkpoint_path(directory: str | os.PathLike[str]) -> Path:
    return Path(directory) / CHECKPOINT_NAME


def save_checkpoint(directory: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Atomically write ``state`` as ``directory/checkpoint.pt``; returns its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = checkpoint_path(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX)
    try:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        payload = buffer.getvalue()
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + hashlib.sha256(payload).digest() + payload)
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
    """The last complete checkpoint in ``directory``, or None if there is none.

    Raises :class:`CheckpointError` (a ValueError, one line, naming the file) when the
    file is empty, truncated, altered (its SHA-256 does not match) or not a checkpoint."""
    path = checkpoint_path(directory)
    if not path.exists():
        return None

    def refuse(why: str) -> CheckpointError:
        return CheckpointError(
            f"checkpoint {path}: {why}; delete it (or pass resume=False) to start afresh"
        )

    if not path.is_file():
        raise refuse("not a file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise refuse(f"cannot be read ({err.strerror or err})") from err
    if not data:
        raise refuse("the file is empty")
    if not data.startswith(MAGIC):
        if MAGIC.startswith(data):
            raise refuse(f"the file is truncated ({len(data)} bytes)")
        raise refuse("not a qoxide checkpoint (no qoxide checkpoint header)")
    digest, payload = data[len(MAGIC) : len(MAGIC) + _DIGEST], data[len(MAGIC) + _DIGEST :]
    if len(digest) < _DIGEST or not payload:
        raise refuse(f"the file is truncated ({len(data)} bytes)")
    if hashlib.sha256(payload).digest() != digest:
        raise refuse(
            "the SHA-256 checksum does not match its contents (the file is truncated or corrupted)"
        )
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means an unusable file
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise refuse(f"the payload cannot be loaded ({first})") from err
    if not isinstance(state, dict):
        raise refuse(f"holds a {type(state).__name__}, not a checkpoint dict")
    return state


def check_resume_state(
    directory: str | os.PathLike[str], state: dict[str, Any], max_epochs: int
) -> None:
    """Check the Trainer's counters in a checkpoint before resuming from it: ``epoch`` and
    ``next_epoch`` integers with 0 <= epoch < next_epoch <= max_epochs + 1 (a hook that
    stops training sets the epoch to max_epochs before the final +1)."""
    path = checkpoint_path(directory)
    epoch, nxt = state.get("epoch"), state.get("next_epoch")
    ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (epoch, nxt))
    if not ok or not 0 <= epoch < nxt <= max_epochs + 1:  # type: ignore[operator]
        raise CheckpointError(
            f"checkpoint {path}: next_epoch={nxt!r} (after epoch={epoch!r}) is outside the "
            f"range 1..{max_epochs + 1} of this Trainer (epochs={max_epochs}); the file is "
            "corrupted or from a longer run: delete it, or resume with at least that many "
            "epochs"
        )


def remove_stale_temporaries(directory: str | os.PathLike[str]) -> None:
    """Delete temporary files left by a process killed while writing a checkpoint."""
    for p in Path(directory).glob(f"{_TMP_PREFIX}*{_TMP_SUFFIX}"):
        p.unlink(missing_ok=True)
