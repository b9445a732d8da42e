"""Which samples each process sees, in which order, and how a batch is unpacked.

Data order must be a function of (seed, epoch) alone: a resumed run replays the order of
an uninterrupted one, and N processes together see exactly the batches one process would.
A shuffling loader is therefore re-sampled with ``DistributedSampler(seed=seed)`` and
``set_epoch(epoch)`` — also for a single process (one replica) — so that global batch k of
an epoch is the same set of samples for any number of processes whose per-process batches
add up to it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
)

from .distributed import Launch


def unpack(batch: Any, where: str) -> tuple[Any, torch.Tensor]:
    """``(data, target)`` of a batch, or a TypeError that says what the loader yielded."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise TypeError(
        f"{where}: the loader must yield (data, target) pairs, got {_describe(batch)}; "
        "return `data, target` from the dataset's __getitem__"
    )


def inputs_of(batch: Any, where: str) -> Any:
    """The model input of a prediction batch: a bare tensor or the data of a pair."""
    if isinstance(batch, torch.Tensor):
        return batch
    return unpack(batch, where)[0]


def to_device(x: Any, device: torch.device) -> Any:
    return x.to(device, non_blocking=True) if isinstance(x, torch.Tensor) else x


def _describe(batch: Any) -> str:
    if isinstance(batch, (tuple, list)):
        return f"a {type(batch).__name__} of {len(batch)} items"
    if isinstance(batch, torch.Tensor):
        return f"a bare tensor of shape {tuple(batch.shape)}"
    return f"a {type(batch).__name__}"


def _order(loader: DataLoader) -> str:
    """'shuffle', 'sequential', or 'custom' (an order the trainer cannot re-create)."""
    if isinstance(loader.dataset, IterableDataset):
        return "custom"
    if type(loader.batch_sampler) is not BatchSampler:  # batch_size=None or a custom one
        return "custom"
    s = loader.sampler
    if type(s) is SequentialSampler:
        return "sequential"
    if type(s) is RandomSampler and not s.replacement and s.num_samples == len(s.data_source):
        return "shuffle"
    return "custom"


def _rebuild(loader: DataLoader, dataset: Any, sampler: Any) -> DataLoader:
    """``loader`` with another dataset/sampler and every other setting kept."""
    kwargs: dict[str, Any] = dict(
        batch_size=loader.batch_size,
        drop_last=loader.drop_last,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
        generator=loader.generator,
        persistent_workers=loader.persistent_workers,
    )
    if loader.num_workers > 0:
        kwargs["prefetch_factor"] = loader.prefetch_factor
    return DataLoader(dataset, sampler=sampler, **kwargs)


def train_loader_for(loader: DataLoader, launch: Launch, seed: int) -> DataLoader:
    """The loader this process iterates during ``fit``.

    Per-process batch size is the loader's ``batch_size`` (torch's DDP convention): N
    processes take global batches of N × batch_size. With a dataset size that is not a
    multiple of N, DistributedSampler pads the last round by repeating samples.
    """
    order = _order(loader)
    if order == "custom":
        if launch.distributed:
            raise ValueError(
                "data-parallel training re-shards the loader with DistributedSampler, which "
                "needs a map-style dataset and a DataLoader built with shuffle=True/False "
                f"(got sampler {type(loader.sampler).__name__}, "
                f"batch_sampler {type(loader.batch_sampler).__name__})"
            )
        return loader  # the caller's own order; resume replays it only if it is seeded
    if order == "sequential" and not launch.distributed:
        return loader
    sampler = DistributedSampler(
        loader.dataset,
        num_replicas=launch.world_size,
        rank=launch.rank,
        shuffle=order == "shuffle",
        seed=seed,
    )
    return _rebuild(loader, loader.dataset, sampler)


def eval_loader_for(loader: DataLoader, launch: Launch) -> DataLoader:
    """This process's share of a validation loader: every N-th sample, no padding, so the
    all-reduced sums count each sample exactly once."""
    if not launch.distributed:
        return loader
    if _order(loader) == "custom":
        raise ValueError(
            "data-parallel validation shards the dataset by index, which needs a map-style "
            "dataset and a DataLoader built with shuffle=True/False"
        )
    shard = Subset(loader.dataset, range(launch.rank, len(loader.dataset), launch.world_size))
    return _rebuild(loader, shard, SequentialSampler(shard))


def set_epoch(loader: DataLoader, epoch: int) -> None:
    """Seed this epoch's order (seed + epoch) so any run replays it."""
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)
