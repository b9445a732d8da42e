"""Sharded statevector over torch.distributed: circuits larger than one process's memory.

``qoxide.distributed.sharded(net)`` runs a ``@qx.circuit`` with its state split over the
ranks of the process group (``torchrun`` / ``mpirun``, detected as ``qx.train`` does).
"""

from .sharded import DEFAULT_BUFFER_FRACTION, Comm, ShardedCircuit, ShardRunner, sharded

__all__ = ["DEFAULT_BUFFER_FRACTION", "Comm", "ShardRunner", "ShardedCircuit", "sharded"]
