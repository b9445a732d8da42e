"""Bad inputs raise the right exception with a message naming the problem — never a Rust
panic (pyo3 PanicException), never a crash, never a huge allocation."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import qoxide as qx
import torch
from qoxide import _core

try:
    from ._grad_helpers import expect_error
except ImportError:
    from _grad_helpers import expect_error


def one_gate(n_qubits, gate):
    """A circuit of ``gate(q, x)`` followed by <Z0>."""

    @qx.circuit(n_qubits=n_qubits)
    def circ(q, x):
        gate(q, x)
        return q.expval(qx.Z(0))

    return circ


X3 = np.array([0.1, 0.2, 0.3])


def small_tape():
    t = _core.Tape(2, 3)
    t.add("RX", [0], [0])
    t.add("RY", [1], [1])
    t.add("CRZ", [0, 1], [2])
    return t, [qx.Z(0).to_core(2), (qx.X(0) @ qx.Y(1)).to_core(2)]


# ----------------------------------------------------------------------------------------
# wires


@pytest.mark.parametrize(
    "gate, frag",
    [
        (lambda q, x: q.rx(x[0], 2), ["RX", "wire 2", "out of range"]),
        (lambda q, x: q.cnot(0, 5), ["CNOT", "wire 5", "out of range"]),
        (lambda q, x: q.h(7), ["Hadamard", "wire 7"]),
        (lambda q, x: q.multi_rz(x[0], [0, 1, 2]), ["MultiRZ", "wire 2"]),
        (lambda q, x: q.toffoli(0, 1, 3), ["Toffoli", "wire 3"]),
        (lambda q, x: q.qubit_unitary(np.eye(2), 9), ["QubitUnitary", "wire 9"]),
    ],
)
def test_gate_wire_out_of_range(gate, frag):
    expect_error(ValueError, lambda: one_gate(2, gate)(X3), *frag)


@pytest.mark.parametrize(
    "obs, frag",
    [
        (qx.Z(3), ["wire 3", "out of range"]),
        (qx.X(0) @ qx.Y(4), ["wire 4"]),
        (qx.Hermitian(np.eye(2), wires=2), ["Hermitian", "wire 2"]),
        (qx.Projector([1], wires=6), ["Projector", "wire 6"]),
    ],
)
def test_observable_wire_out_of_range(obs, frag):
    @qx.circuit(n_qubits=2)
    def circ(q, x):
        q.rx(x[0], 0)
        return q.expval(obs)

    expect_error(ValueError, lambda: circ(X3), *frag)


def test_measurement_wire_out_of_range():
    @qx.circuit(n_qubits=2)
    def circ(q, x):
        q.rx(x[0], 0)
        return q.probs([0, 2])

    expect_error(ValueError, lambda: circ(X3), "probs", "wire 2", "out of range")

    @qx.circuit(n_qubits=2)
    def samp(q, x):
        q.rx(x[0], 0)
        return q.sample([3], shots=4)

    expect_error(ValueError, lambda: samp(X3), "sample", "wire 3")


def test_negative_observable_wire():
    expect_error(ValueError, lambda: qx.Z(-1), "non-negative", "-1")
    expect_error(ValueError, lambda: qx.Hermitian(np.eye(2), wires=[-2]), "-2")


def test_negative_gate_wire_is_value_error():
    expect_error(ValueError, lambda: one_gate(2, lambda q, x: q.rx(x[0], -1))(X3), "-1")


@pytest.mark.parametrize(
    "gate, frag",
    [
        (lambda q, x: q.cnot(1, 1), ["CNOT", "wire 1", "repeated"]),
        (lambda q, x: q.crx(x[0], 0, 0), ["CRX", "repeated"]),
        (lambda q, x: q.multi_rz(x[0], [0, 2, 0]), ["MultiRZ", "repeated"]),
        (lambda q, x: q.toffoli(0, 1, 1), ["Toffoli", "repeated"]),
        (lambda q, x: q.qubit_unitary(np.eye(4), [2, 2]), ["QubitUnitary", "repeated"]),
    ],
)
def test_repeated_wires(gate, frag):
    expect_error(ValueError, lambda: one_gate(3, gate)(X3), *frag)


def test_repeated_wires_in_observables_and_measurements():
    expect_error(ValueError, lambda: qx.Z(0) @ qx.X(0), "overlapping")
    expect_error(
        ValueError,
        lambda: _core.Observable.hermitian(2, [1, 1], np.eye(4, dtype=complex)),
        "repeated",
    )
    expect_error(ValueError, lambda: _core.Observable.projector(2, [0, 0], [1, 1]), "repeated")
    t, _ = small_tape()
    expect_error(ValueError, lambda: _core.probs(t, np.zeros((1, 3)), [1, 1]), "repeated")


def test_wrong_gate_arity():
    expect_error(ValueError, lambda: one_gate(2, lambda q, x: q.op("CNOT", [0]))(X3), "CNOT", "2")
    expect_error(ValueError, lambda: one_gate(2, lambda q, x: q.op("RX", [0]))(X3), "RX", "param")
    expect_error(ValueError, lambda: one_gate(2, lambda q, x: q.multi_rz(x[0], []))(X3), "MultiRZ")
    expect_error(
        ValueError,
        lambda: one_gate(3, lambda q, x: q.multi_controlled_x([0, 1], 2, [True]))(X3),
        "control values",
    )


# ----------------------------------------------------------------------------------------
# theta given to the native functions


@pytest.mark.parametrize(
    "theta, frag",
    [
        (np.zeros((4, 2)), ["theta", "3"]),
        (np.zeros((4, 5)), ["theta", "3"]),
        (np.zeros(3), ["theta", "2-D"]),
        (np.zeros((1, 1, 3)), ["theta", "2-D"]),
        (np.zeros((0, 3)), ["batch"]),
        (np.zeros((2, 2), dtype=np.float32), ["theta"]),
    ],
    ids=["narrow", "wide", "1d", "3d", "empty-batch", "narrow-f32"],
)
@pytest.mark.parametrize("fn", ["expval", "var", "jacobian", "state", "probs", "vjp"])
def test_wrong_theta_shape(theta, frag, fn):
    t, obs = small_tape()
    calls = {
        "expval": lambda: _core.expval(t, theta, obs),
        "var": lambda: _core.var(t, theta, obs),
        "jacobian": lambda: _core.jacobian(t, theta, obs),
        "state": lambda: _core.state(t, theta),
        "probs": lambda: _core.probs(t, theta, [0]),
        "vjp": lambda: _core.vjp(t, theta, obs, np.zeros((max(theta.shape[0], 1), 2))),
    }
    if fn == "vjp" and theta.ndim == 2 and theta.shape[0] == 0:
        frag = ["rows"]  # grad_out has 1 row, theta 0: caught first
    expect_error(ValueError, calls[fn], *frag)


@pytest.mark.parametrize(
    "theta",
    [
        np.zeros((2, 3), dtype=np.int64),
        np.zeros((2, 3), dtype=np.complex128),
        np.zeros((2, 3), dtype=np.float16),
        [[0.0, 0.0, 0.0]],
        torch.zeros(2, 3, dtype=torch.float64),
    ],
    ids=["int64", "complex128", "float16", "list", "torch"],
)
@pytest.mark.parametrize("fn", ["expval", "jacobian", "state", "sample"])
def test_wrong_theta_dtype_is_type_error(theta, fn):
    t, obs = small_tape()
    calls = {
        "expval": lambda: _core.expval(t, theta, obs),
        "jacobian": lambda: _core.jacobian(t, theta, obs),
        "state": lambda: _core.state(t, theta),
        "sample": lambda: _core.sample(t, theta, [0], 3, 0),
    }
    expect_error(TypeError, calls[fn], "theta", "float64", "float32")


def test_wrong_call_dtype_is_type_error():
    circ = one_gate(2, lambda q, x: q.rx(x[0], 0))
    expect_error(TypeError, lambda: circ(X3, dtype=np.int32), "dtype", "float32", "float64")
    expect_error(TypeError, lambda: circ(X3, dtype=np.complex128), "dtype")
    expect_error(TypeError, lambda: circ(torch.zeros(3), dtype=torch.int32), "dtype")
    expect_error(TypeError, lambda: circ(torch.zeros(3), dtype=torch.float16), "dtype")


def test_wrong_init_state():
    t, obs = small_tape()
    th = np.zeros((2, 3))
    expect_error(ValueError, lambda: _core.expval(t, th, obs, np.zeros(3, dtype=complex)), "4", "3")
    expect_error(
        ValueError, lambda: _core.expval(t, th, obs, np.zeros((3, 4), dtype=complex)), "[2, 4]"
    )
    expect_error(
        TypeError,
        lambda: _core.expval(t, th, obs, np.zeros(4, dtype=np.complex64)),
        "init_state",
        "complex128",
    )


def test_wrong_grad_out_shape():
    t, obs = small_tape()
    th = np.zeros((4, 3))
    expect_error(ValueError, lambda: _core.vjp(t, th, obs, np.zeros((3, 2))), "grad_out", "rows")
    expect_error(ValueError, lambda: _core.vjp(t, th, obs, np.zeros((4, 3))), "grad_out", "[4, 2]")


def test_wrong_grad_out_dtype_is_type_error():
    t, obs = small_tape()
    msg = expect_error(
        TypeError, lambda: _core.vjp(t, np.zeros((4, 3)), obs, np.zeros((4, 2), dtype=int))
    )
    assert "theta" not in msg


def test_observable_for_other_register_size():
    t, _ = small_tape()
    expect_error(
        ValueError,
        lambda: _core.expval(t, np.zeros((1, 3)), [qx.Z(0).to_core(3)]),
        "3 qubits",
        "2",
    )


def test_tape_construction_errors():
    expect_error(ValueError, lambda: _core.Tape(0, 1), "n_qubits")
    expect_error(ValueError, lambda: _core.Tape(_core.MAX_QUBITS + 1, 1), "n_qubits")
    expect_error(ValueError, lambda: qx.circuit(n_qubits=0)(lambda q: q.state()), "n_qubits")
    expect_error(ValueError, lambda: qx.circuit(n_qubits=41)(lambda q: q.state()), "n_qubits")
    t = _core.Tape(2, 1)
    expect_error(ValueError, lambda: t.add("RX", [0], [3]), "column 3", "width 1")
    expect_error(ValueError, lambda: t.add("RX", [0], [-1]), "column", "-1")
    expect_error(
        ValueError, lambda: t.add("RX", [0], [0.1], matrix=np.eye(2, dtype=complex)), "matrix"
    )
    assert t.n_ops == 0  # failed adds leave the tape unchanged


# ----------------------------------------------------------------------------------------
# matrices


@pytest.mark.parametrize(
    "matrix, wires, frag",
    [
        (np.array([[1, 1], [0, 1]]), 0, "not unitary"),
        (2 * np.eye(2), 0, "not unitary"),
        (np.eye(4)[:, ::-1] * 1.001, [0, 1], "not unitary"),
        (np.eye(4), 0, "2x2"),
        (np.eye(4)[:2], 0, "square"),
    ],
    ids=["shear", "scaled", "nearly", "wrong-size", "non-square"],
)
def test_non_unitary_qubit_unitary(matrix, wires, frag):
    circ = one_gate(2, lambda q, x: q.qubit_unitary(matrix, wires))
    expect_error(ValueError, lambda: circ(X3), "QubitUnitary", frag)


def test_unitary_within_tolerance_is_accepted():
    u = np.array([[0, 1], [1, 0]], dtype=complex) * (1 + 1e-9)
    circ = one_gate(1, lambda q, x: q.qubit_unitary(u, 0))
    np.testing.assert_allclose(circ(np.zeros(1)), -1.0, atol=1e-6)


@pytest.mark.parametrize(
    "matrix",
    [np.array([[1, 1], [0, 1]]), np.array([[1, 1j], [1j, 1]]), np.array([[1j, 0], [0, 1]])],
    ids=["upper", "sym-imag", "imag-diag"],
)
def test_non_hermitian_hermitian(matrix):
    expect_error(ValueError, lambda: qx.Hermitian(matrix, wires=0), "not Hermitian")
    expect_error(
        ValueError,
        lambda: _core.Observable.hermitian(1, [0], np.asarray(matrix, dtype=complex)),
        "not Hermitian",
    )


def test_bad_observable_construction():
    expect_error(ValueError, lambda: qx.Hermitian(np.eye(4), wires=0), "2x2")
    expect_error(ValueError, lambda: qx.Projector([2], wires=0), "bit")
    expect_error(ValueError, lambda: qx.Projector([1, 0], wires=0), "bit")
    expect_error(ValueError, lambda: qx.Pauli({0: "Q"}), "Q")
    expect_error(ValueError, lambda: _core.Observable.projector(2, [0], [5]), "0/1")
    expect_error(ValueError, lambda: _core.Observable.sum([]), "at least one")


NON_AFFINE = [
    ("product", lambda q, x: q.rx(x[0] * x[1], 0), "product"),
    ("np.sin", lambda q, x: q.rx(np.sin(x[0]), 0), "numpy.sin"),
    ("np.exp", lambda q, x: q.rx(np.exp(x[0]), 0), "numpy.exp"),
    ("power", lambda q, x: q.rx(x[0] ** 2, 0), "power"),
    ("division by parameter", lambda q, x: q.rx(1.0 / x[0], 0), "division"),
    ("float()", lambda q, x: q.rx(float(x[0]), 0), "no value"),
    ("bool", lambda q, x: q.rx(0.1 if x[0] else 0.2, 0), "truth value"),
    ("string", lambda q, x: q.rx("0.3", 0), "number"),
]


@pytest.mark.parametrize(
    ("gate", "frag"), [c[1:] for c in NON_AFFINE], ids=[c[0] for c in NON_AFFINE]
)
def test_non_affine_parameter_is_type_error(gate, frag):
    expect_error(TypeError, lambda: one_gate(2, gate)(X3), frag)


def test_non_affine_weight_use_is_type_error():
    @qx.circuit(n_qubits=1)
    def circ(q, x, w):
        q.rx(x[0] * w[0], 0)
        return q.expval(qx.Z(0))

    expect_error(TypeError, lambda: circ(X3, np.ones(1)), "affine")


def test_wrong_number_of_call_arguments():
    @qx.circuit(n_qubits=1)
    def circ(q, x, w):
        q.rx(x[0] + w[0], 0)
        return q.expval(qx.Z(0))

    expect_error(TypeError, lambda: circ(X3), "circ", "2 argument", "got 1")
    expect_error(TypeError, lambda: circ(X3, X3, X3), "2 argument", "got 3")
    expect_error(TypeError, lambda: circ(), "got 0")
    expect_error(TypeError, lambda: circ(torch.zeros(3)), "got 1")


def test_bad_circuit_return_value():
    expect_error(
        TypeError, lambda: qx.circuit(n_qubits=1)(lambda q, x: 3)(X3), "must return a measurement"
    )
    expect_error(
        TypeError, lambda: qx.circuit(n_qubits=1)(lambda q, x: q.expval(3))(X3), "observable"
    )
    expect_error(
        TypeError, lambda: qx.circuit(n_qubits=1)(lambda q, x: [])(X3), "must return a measurement"
    )
    expect_error(TypeError, lambda: qx.circuit(n_qubits=1)(lambda: None), "recorder")


def test_bad_state_prep_and_shots():
    def prep(vec):
        @qx.circuit(n_qubits=2)
        def circ(q, x):
            q.state_prep(vec)
            q.rx(x[0], 0)
            return q.expval(qx.Z(0))

        return circ

    expect_error(ValueError, lambda: prep([1, 1, 0, 0])(X3), "normalised")
    expect_error(ValueError, lambda: prep([1, 0])(X3), "2^2", "2")

    @qx.circuit(n_qubits=2)
    def late(q, x):
        q.rx(x[0], 0)
        q.basis_state([1, 0])
        return q.expval(qx.Z(0))

    expect_error(ValueError, lambda: late(X3), "before any gate")

    @qx.circuit(n_qubits=2)
    def bad_bits(q, x):
        q.basis_state([2, 0])
        return q.expval(qx.Z(0))

    expect_error(ValueError, lambda: bad_bits(X3), "0/1")

    @qx.circuit(n_qubits=1)
    def shots0(q, x):
        q.rx(x[0], 0)
        return q.sample(shots=0)

    expect_error(ValueError, lambda: shots0(X3), "shots")


def test_tensor_on_other_device_is_refused():
    circ = one_gate(1, lambda q, x: q.rx(x[0], 0))
    expect_error(NotImplementedError, lambda: circ(torch.zeros(1, device="meta")), "CPU")


# ----------------------------------------------------------------------------------------
# NaN


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_angle_gives_nan_outputs_not_a_crash(bad):
    @qx.circuit(n_qubits=3)
    def circ(q, x):
        for i in range(3):
            q.h(i)
            q.ry(x[i], i)
        q.cnot(0, 1)
        q.crz(x[0], 1, 2)
        return [q.expval(qx.Z(i)) for i in range(3)]

    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(4, 3))
    good = circ(x)
    xb = x.copy()
    xb[1, 0] = bad
    out = circ(xb)
    assert np.isnan(out[1]).any()
    # the other samples are untouched
    np.testing.assert_array_equal(out[[0, 2, 3]], good[[0, 2, 3]])

    # gradients: NaN in that row only, no exception
    xt = torch.tensor(xb, requires_grad=True)
    y = circ(xt)
    y.sum().backward()
    assert torch.isnan(xt.grad[1]).any()
    assert torch.isfinite(xt.grad[[0, 2, 3]]).all()

    prog = circ.program((3,), [])
    theta = prog.theta_numpy(xb, None, 4, np.float64)
    jac = _core.jacobian(prog.tape, theta, prog.observables)
    assert np.isnan(jac[1]).any() and np.isfinite(jac[[0, 2, 3]]).all()
    for dt in (np.float32, np.float64):
        st = _core.state(prog.tape, theta.astype(dt))
        assert np.isnan(st[1]).any() and np.isfinite(st[0]).all()
        pr = _core.probs(prog.tape, theta.astype(dt), [0, 1])
        assert np.isnan(pr[1]).any()
        # sampling from NaN probabilities must not crash or read out of bounds
        s = _core.sample(prog.tape, theta.astype(dt), [0, 1], 16, 3)
        assert s.shape == (4, 16, 2) and set(np.unique(s)) <= {0, 1}


def test_nan_weight_in_constant_position_is_nan():
    t = _core.Tape(1, 0)
    t.add("RX", [0], [float("nan")])
    out = _core.expval(t, np.zeros((2, 0)), [qx.Z(0).to_core(1)])
    assert out.shape == (2, 1) and np.isnan(out).all()


# ----------------------------------------------------------------------------------------
# memory


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _available_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 2**62


def _big_circuit(n, measure):
    @qx.circuit(n_qubits=n)
    def circ(q, x):
        q.h(0)
        q.rx(x[0], 1)
        q.cnot(0, n - 1)
        return measure(q)

    return circ


@pytest.mark.parametrize(
    "n, batch, measure",
    [
        (40, None, lambda q: q.expval(qx.Z(0))),
        (40, None, lambda q: q.state()),
        (40, None, lambda q: q.var(qx.X(3))),
        (40, None, lambda q: q.sample([0], shots=10)),
        (34, 8, lambda q: q.expval(qx.Z(0) @ qx.Z(33))),
        (34, 8, lambda q: [q.expval(qx.Z(0)), q.expval(qx.Hermitian(np.eye(2), 5))]),
        (34, 3, lambda q: q.state()),
    ],
    ids=["40-expval", "40-state", "40-var", "40-sample", "34x8-expval", "34x8-herm", "34x3-state"],
)
def test_over_large_register_is_memory_error_fast(n, batch, measure):
    if _available_bytes() > (8 << n) * (batch or 1):
        pytest.skip("this machine could actually hold the state")
    circ = _big_circuit(n, measure)
    x = np.full((batch, 1), 0.3) if batch else np.array([0.3])
    rss0 = _maxrss_mib()
    t0 = time.perf_counter()
    expect_error(MemoryError, lambda: circ(x), "GiB", "available")
    assert time.perf_counter() - t0 < 1.0
    assert _maxrss_mib() - rss0 < 200, "the refused call allocated memory anyway"


def test_over_large_register_gradients_are_memory_error_fast():
    t = _core.Tape(40, 1)
    t.add("RX", [0], [0])
    obs = [qx.Z(0).to_core(40)]
    th = np.zeros((1, 1))
    for call in (
        lambda: _core.jacobian(t, th, obs),
        lambda: _core.vjp(t, th, obs, np.ones((1, 1))),
        lambda: _core.jacobian(t, th.astype(np.float32), obs),
    ):
        t0 = time.perf_counter()
        expect_error(MemoryError, call, "GiB")
        assert time.perf_counter() - t0 < 1.0
    # through torch as well (the forward refuses before anything is allocated)
    circ = _big_circuit(40, lambda q: q.expval(qx.Z(0)))
    x = torch.zeros(2, 1, dtype=torch.float64, requires_grad=True)
    expect_error(MemoryError, lambda: circ(x), "40 qubits")


def test_memory_error_does_not_break_later_calls():
    circ = _big_circuit(40, lambda q: q.expval(qx.Z(0)))
    with pytest.raises(MemoryError):
        circ(np.array([0.3]))
    small = _big_circuit(3, lambda q: q.expval(qx.Z(1)))
    np.testing.assert_allclose(small(np.array([0.3])), np.cos(0.3), atol=1e-12)


_PROBS_40 = textwrap.dedent(
    """
    import numpy as np, qoxide as qx
    @qx.circuit(n_qubits={n})
    def circ(q, x):
        q.rx(x[0], 0)
        return q.probs()
    try:
        circ(np.array([0.3]))
    except MemoryError as e:
        print("MemoryError:", e)
    """
)


@pytest.mark.parametrize("n", [40, 34])
def test_over_large_probs_is_memory_error_not_abort(n):
    if _available_bytes() > (8 << n):
        pytest.skip("this machine could actually hold the probabilities")
    proc = subprocess.run(
        [sys.executable, "-c", _PROBS_40.format(n=n)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "RUST_BACKTRACE": "0"},
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)),  # no core file
    )
    assert proc.returncode == 0, f"process died (rc={proc.returncode}): {proc.stderr[-400:]}"
    assert "MemoryError:" in proc.stdout


# ----------------------------------------------------------------------------------------
# panics


def test_no_panic_for_a_sweep_of_bad_native_calls():
    """Throw a grab bag of bad arguments at every native entry point: each must raise an
    ordinary Exception (or succeed), never a BaseException such as PanicException."""
    t, obs = small_tape()
    th = np.zeros((2, 3))
    bad_calls = [
        lambda: _core.expval(t, th, []),
        lambda: _core.probs(t, th, []),
        lambda: _core.sample(t, th, [], 3, 0),
        lambda: _core.sample(t, th, [0], 0, 0),
        lambda: _core.sample(t, th, [0, 1], 2**62, 0),
        lambda: _core.state(t, np.full((2, 3), np.nan)),
        lambda: _core.vjp(t, th, [], np.zeros((2, 0))),
        lambda: _core.jacobian(t, np.zeros((2, 3)), obs, np.zeros((2, 4), dtype=complex)),
        lambda: _core.expval(t, th, obs, np.zeros((2, 2, 4), dtype=complex)),
        lambda: _core.Observable.pauli(2, [(1.0, [(0, "XX")])]),
        lambda: _core.Observable.pauli(2, [(1.0, [(0, "Q")])]),
        lambda: _core.Observable.pauli(2, [(1.0, [(0, "Z"), (0, "X")])]),
        lambda: _core.Observable.projector(2, [0], [256]),
        lambda: _core.Observable.hermitian(2, [], np.zeros((1, 1), dtype=complex)),
        lambda: _core.Observable.hermitian(2, [0], np.zeros((2, 3), dtype=complex)),
        lambda: _core.Tape(2, 0).add("QubitUnitary", [0]),
        lambda: _core.Tape(2, 0).add("QubitUnitary", [0], matrix=np.zeros((0, 0), dtype=complex)),
        lambda: _core.Tape(2, 0).add("MultiControlledX", [0, 1], control_values=[True, False]),
        lambda: _core.Tape(2, 0).add("GlobalPhase", [0], [0.1]),
        lambda: _core.Tape(2, 0).add("RX", [0], [0.1, 0.2]),
        lambda: _core.Tape(2, 0).add("RX", [0], ["a"]),
        lambda: qx.set_num_threads(-1),
    ]
    for i, call in enumerate(bad_calls):
        try:
            call()
        except Exception:  # noqa: BLE001 - any ordinary exception is fine
            pass
        except BaseException as e:  # noqa: BLE001
            raise AssertionError(f"call {i} raised {type(e).__name__}: {e}") from None
