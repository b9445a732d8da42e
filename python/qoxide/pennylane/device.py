"""``qoxide.qubit``: a PennyLane device running circuits on qoxide's native simulator.

    dev = qml.device("qoxide.qubit", wires=4)                      # analytic, complex128
    dev = qml.device("qoxide.qubit", wires=4, shots=1000, seed=7)  # sampled, reproducible
    dev = qml.device("qoxide.qubit", wires=4, c_dtype=np.complex64)
    dev = qml.device("qoxide.qubit", wires=36, mpi=True)           # sharded over the ranks

``diff_method="adjoint"`` (or ``"device"``) differentiates expectation values with the
native adjoint method; torch and autograd backpropagate through :meth:`compute_vjp`, one
adjoint sweep per circuit row. A broadcast tape (``batch_size=B``) is one native call of B
rows, forward and backward, and tapes of one ``execute`` call that differ only in parameter
values are stacked into one call too.

``mpi=True`` (as lightning's ``mpi=True``) shards the statevector over the ranks of a
torch.distributed process group (created from ``torchrun`` / ``mpirun`` variables when none
exists; :mod:`qoxide.distributed`): every rank runs the same script and gets the same
results. Sharded: analytic expvals (their adjoint derivatives too) and probs; other
analytic measurements gather the full state on every rank first; shots and initial states
raise NotImplementedError.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pennylane as qml
from pennylane.devices import Device, ExecutionConfig
from pennylane.devices.modifiers import simulator_tracking, single_tape_support
from pennylane.devices.preprocess import (
    decompose,
    device_resolve_dynamic_wires,
    no_sampling,
    validate_adjoint_trainable_params,
    validate_device_wires,
    validate_measurements,
    validate_observables,
)
from pennylane.exceptions import DeviceError
from pennylane.math import Interface
from pennylane.tape import QuantumScript
from pennylane.transforms import broadcast_expand, defer_measurements
from pennylane.typing import Result
from pennylane.wires import Wires

from .derivatives import jacobians, vjps
from .measurements import measure_analytic, measure_sampled
from .observables import is_native_for_adjoint
from .preprocessing import (
    CAPABILITIES,
    DIFFERENTIABLE_GATE_SET,
    GATE_SET,
    accepts_adjoint,
    accepts_analytic,
    accepts_sampled,
    adjoint_decomposition,
    expand_matrix_broadcast,
    observable_analytic,
    observable_sampled,
    split_for_sampling,
    supports_adjoint_operation,
    supports_operation,
)
from .translate import Job, Stack, stack, translate

_DEVICE_GRADIENTS = ("adjoint", "device")
_ADJOINT = "adjoint + qoxide.qubit"


@simulator_tracking
@single_tape_support
class QoxideQubit(Device):
    """PennyLane device backed by qoxide's batched statevector core.

    Args:
        wires: number of wires or their labels (None: the wires each circuit uses).
        shots: default shots (deprecated on devices by PennyLane; prefer ``qml.set_shots``).
        seed: seed for sampling: an int, None (fresh entropy), a numpy ``Generator``, or
            ``"global"`` (drawn from numpy's global generator, PennyLane's default).
        c_dtype: ``np.complex128`` (default) or ``np.complex64`` for the state vector.
        mpi: shard the state vector over the process group's ranks (a power of two).
        buffer_fraction: with ``mpi``, the extra memory a swap of index bits may use, as a
            fraction of the shard (more rounds of smaller collectives below it).
    """

    capabilities = CAPABILITIES

    def __init__(
        self,
        wires: int | Sequence | None = None,
        shots: int | Sequence | None = None,
        seed: object = "global",
        c_dtype: type = np.complex128,
        mpi: bool = False,
        buffer_fraction: float | None = None,
    ) -> None:
        super().__init__(wires=wires, shots=shots)
        if c_dtype not in (np.complex128, np.complex64):
            raise ValueError(f"c_dtype must be np.complex128 or np.complex64, got {c_dtype!r}")
        self._c_dtype = c_dtype
        self._real_dtype = np.float32 if c_dtype == np.complex64 else np.float64
        self._rng = np.random.default_rng(
            np.random.randint(2**31 - 1) if isinstance(seed, str) and seed == "global" else seed
        )
        self._wire_index = None if self.wires is None else {w: i for i, w in enumerate(self.wires)}
        # what evaluates native tapes (run / jacobian / vjp): None for the CPU engine, the
        # sharded runner with mpi=True, the CUDA runner on qoxide.gpu
        self._runner: Any = None
        self._mpi = mpi
        if mpi:
            from ..distributed import DEFAULT_BUFFER_FRACTION, ShardRunner

            fraction = DEFAULT_BUFFER_FRACTION if buffer_fraction is None else buffer_fraction
            self._runner = ShardRunner(buffer_fraction=fraction)
        elif buffer_fraction is not None:
            raise ValueError("buffer_fraction applies to mpi=True only")

    @property
    def name(self) -> str:
        return "qoxide.qubit"

    @property
    def c_dtype(self) -> type:
        """Complex dtype of the state vector."""
        return self._c_dtype

    # configuration ---------------------------------------------------------------------
    def supports_derivatives(
        self, execution_config: ExecutionConfig | None = None, circuit: QuantumScript | None = None
    ) -> bool:
        """Adjoint derivatives of analytic expectation values of observables with a native
        form. Checked structurally: this runs on every QNode call, so it must stay cheap."""
        if execution_config is None:
            return True
        if (
            execution_config.gradient_method not in (*_DEVICE_GRADIENTS, "best")
            or execution_config.derivative_order > 1  # adjoint: first derivatives only
        ):
            return False
        if circuit is None:
            return True
        if any(
            mp.obs is not None and not observable_analytic(mp.obs) for mp in circuit.measurements
        ):
            # Not measurable at all (``RZ`` as an observable): preprocessing refuses it with
            # a DeviceError naming it, as default.qubit does.
            return True
        return not circuit.shots and all(
            accepts_adjoint(mp) and is_native_for_adjoint(mp.obs) for mp in circuit.measurements
        )

    def supports_vjp(
        self, execution_config: ExecutionConfig | None = None, circuit: QuantumScript | None = None
    ) -> bool:
        return self.supports_derivatives(execution_config, circuit)

    def setup_execution_config(
        self, config: ExecutionConfig | None = None, circuit: QuantumScript | None = None
    ) -> ExecutionConfig:
        """Resolve "best" to the adjoint method, route torch/autograd backward passes to
        :meth:`compute_vjp` (one sweep per row, not a Jacobian), defer mid-circuit
        measurements."""
        config = config or ExecutionConfig()
        for option in config.device_options:
            raise DeviceError(f"device option {option} not present on {self}")
        updated: dict = {}
        method = config.gradient_method
        if method == "best":
            method = updated["gradient_method"] = "adjoint"
        device_gradient = method in _DEVICE_GRADIENTS
        if config.use_device_gradient is None:
            updated["use_device_gradient"] = device_gradient
        if device_gradient and config.interface not in (Interface.JAX, Interface.JAX_JIT):
            updated["use_device_jacobian_product"] = True
        elif config.use_device_jacobian_product is None:
            updated["use_device_jacobian_product"] = False
        if config.grad_on_execution is None:
            updated["grad_on_execution"] = False
        mcm = config.mcm_config
        if mcm.mcm_method not in (None, "deferred"):
            raise DeviceError(
                f"mcm_method={mcm.mcm_method!r} is not supported by {self.name}; "
                "mid-circuit measurements are deferred (mcm_method='deferred')"
            )
        updated["mcm_config"] = replace(mcm, mcm_method="deferred")
        return replace(config, **updated)

    def preprocess_transforms(
        self, execution_config: ExecutionConfig | None = None
    ) -> qml.CompilePipeline:
        config = execution_config or ExecutionConfig()
        program = qml.CompilePipeline()
        program.add_transform(
            validate_measurements,
            analytic_measurements=accepts_analytic,
            sample_measurements=accepts_sampled,
            name=self.name,
        )
        program.add_transform(
            validate_observables,
            stopping_condition=observable_analytic,
            stopping_condition_shots=observable_sampled,
            name=self.name,
        )
        if config.mcm_config.mcm_method == "deferred":
            program.add_transform(defer_measurements, allow_postselect=False)
        program.add_transform(
            decompose,
            stopping_condition=supports_operation,
            device_wires=self.wires,
            target_gates=GATE_SET,
            name=self.name,
        )
        program.add_transform(device_resolve_dynamic_wires, wires=self.wires, allow_resets=False)
        program.add_transform(validate_device_wires, self.wires, name=self.name)
        program.add_transform(split_for_sampling)
        program.add_transform(expand_matrix_broadcast)
        if config.gradient_method in _DEVICE_GRADIENTS:
            program.add_transform(no_sampling, name=_ADJOINT)
            program.add_transform(
                decompose,
                stopping_condition=supports_adjoint_operation,
                device_wires=self.wires,
                target_gates=DIFFERENTIABLE_GATE_SET,
                name=_ADJOINT,
                # A trainable state prep is decomposed into differentiable gates (as on
                # default.qubit's adjoint path); a constant one stays the initial state.
                skip_initial_state_prep=False,
                decomposer=adjoint_decomposition,
            )
            program.add_transform(
                validate_measurements, analytic_measurements=accepts_adjoint, name=_ADJOINT
            )
            program.add_transform(
                validate_observables, stopping_condition=is_native_for_adjoint, name=_ADJOINT
            )
            program.add_transform(validate_adjoint_trainable_params)
            if not config.use_device_jacobian_product:
                # A Jacobian cannot tell a broadcast parameter from a shared one; VJPs can.
                program.add_transform(broadcast_expand)
        return program

    # execution -------------------------------------------------------------------------
    def execute(
        self,
        circuits: Sequence[QuantumScript],
        execution_config: ExecutionConfig | None = None,
    ) -> tuple[Result, ...]:
        return self._per_stack(circuits, self._measure)

    def compute_derivatives(
        self,
        circuits: Sequence[QuantumScript],
        execution_config: ExecutionConfig | None = None,
    ) -> tuple:
        jacobian = None if self._runner is None else self._runner.jacobian
        return self._per_stack(circuits, lambda st, _: jacobians(st, jacobian))

    def execute_and_compute_derivatives(
        self,
        circuits: Sequence[QuantumScript],
        execution_config: ExecutionConfig | None = None,
    ) -> tuple[tuple, tuple]:
        return (
            self.execute(circuits, execution_config),
            self.compute_derivatives(circuits, execution_config),
        )

    def compute_vjp(
        self,
        circuits: Sequence[QuantumScript],
        cotangents: Sequence,
        execution_config: ExecutionConfig | None = None,
    ) -> tuple:
        per_row = execution_config is not None and execution_config.interface == Interface.TORCH
        vjp_fn = None if self._runner is None else self._runner.vjp
        return self._per_stack(
            circuits, lambda st, idx: vjps(st, [cotangents[i] for i in idx], per_row, vjp_fn)
        )

    def execute_and_compute_vjp(
        self,
        circuits: Sequence[QuantumScript],
        cotangents: Sequence,
        execution_config: ExecutionConfig | None = None,
    ) -> tuple[tuple, tuple]:
        return (
            self.execute(circuits, execution_config),
            self.compute_vjp(circuits, cotangents, execution_config),
        )

    # helpers -----------------------------------------------------------------------------
    def _per_stack(
        self, circuits: Sequence[QuantumScript], fn: Callable[[Stack, list[int]], list]
    ) -> tuple:
        """``fn(stack, indices)`` once per stack of structurally equal circuits (``indices``:
        their positions in ``circuits``); one result per circuit, in input order."""
        jobs = [self._job(c) for c in circuits]
        if len(jobs) == 1:
            groups = [[0]]
        else:
            by_key: dict[tuple, list[int]] = {}
            for i, job in enumerate(jobs):
                by_key.setdefault(job.stack_key(), []).append(i)
            groups = list(by_key.values())
        results: list = [None] * len(jobs)
        for idx in groups:
            for i, r in zip(idx, fn(stack([jobs[i] for i in idx]), idx), strict=True):
                results[i] = r
        return tuple(results)

    def _measure(self, st: Stack, _: list[int]) -> list[Result]:
        if st.jobs[0].tape.shots:  # a stack shares its shots
            if self._mpi:
                raise NotImplementedError(
                    "qoxide.qubit with mpi=True runs analytic circuits; shots are not "
                    "implemented for the sharded state vector"
                )
            return measure_sampled(st, self._draw_seed)
        return measure_analytic(st, None if self._runner is None else self._runner.run)

    def _job(self, tape: QuantumScript) -> Job:
        if self._wire_index is None:
            tape = tape.map_to_standard_wires()
            wire_order = Wires(range(tape.num_wires))
            wire_index = {i: i for i in range(tape.num_wires)}
        else:
            wire_order, wire_index = self.wires, self._wire_index
        circuit = translate(tape.operations, wire_index, self._real_dtype)
        return Job(tape, circuit, wire_order, wire_index)

    def _draw_seed(self) -> int:
        return int(self._rng.integers(2**63))
