"""The recording API: affine parameters, array types and precisions in/out, batch shapes,
measurement list shapes, the compile cache, state preparation."""

from __future__ import annotations

import numpy as np
import pytest
import qoxide as qx
import torch
from qoxide import _core

try:
    from ._grad_helpers import random_unitary
except ImportError:
    from _grad_helpers import random_unitary


def ry_z(n, angles):
    """RY(angle_i(x, w)) on wire i, <Z_i> = cos(angle_i): checks the recorded angle exactly."""

    @qx.circuit(n_qubits=n)
    def circ(q, x, w):
        for i, f in enumerate(angles):
            q.ry(f(x, w), i)
        return [q.expval(qx.Z(i)) for i in range(n)]

    return circ


AFFINE = [
    ("2x+0.1", lambda x, w: 2.0 * x[0] + 0.1, lambda x, w: 2.0 * x[0] + 0.1),
    ("-x", lambda x, w: -x[1], lambda x, w: -x[1]),
    ("x/2", lambda x, w: x[2] / 2, lambda x, w: x[2] / 2),
    ("x+w", lambda x, w: x[0] + w[1], lambda x, w: x[0] + w[1]),
    ("w-x", lambda x, w: w[0] - x[2], lambda x, w: w[0] - x[2]),
    ("3-x", lambda x, w: 3 - x[1], lambda x, w: 3 - x[1]),
    ("x*2 (rmul)", lambda x, w: x[1] * 2, lambda x, w: x[1] * 2),
    ("0.5(x+w)", lambda x, w: 0.5 * (x[0] + w[0]), lambda x, w: 0.5 * (x[0] + w[0])),
    (
        "np scalar right",
        lambda x, w: w[1] * np.float64(1.5) + np.float32(0.25),
        lambda x, w: 1.5 * w[1] + 0.25,
    ),
    ("np.pi", lambda x, w: np.pi * x[2] - np.pi, lambda x, w: np.pi * x[2] - np.pi),
    ("x-x+w (cancels)", lambda x, w: x[0] - x[0] + w[1], lambda x, w: w[1]),
    ("const", lambda x, w: 0.7, lambda x, w: 0.7 + 0 * x[0]),
    ("const expr", lambda x, w: (x[0] - x[0]) * 3 + 0.2, lambda x, w: 0.2 + 0 * x[0]),
]


@pytest.mark.parametrize("case", AFFINE, ids=[c[0] for c in AFFINE])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_affine_parameters(case, kind):
    _, sym, ref = case
    circ = ry_z(1, [sym])
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(5, 3))
    w = rng.uniform(-2, 2, size=2)
    want = (np.cos(ref(x.T, w)) * np.ones(5))[:, None]
    if kind == "torch":
        got = circ(torch.tensor(x), torch.tensor(w)).numpy()
    else:
        got = circ(x, w)
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_affine_combinations_of_whole_arrays():
    """Object-array arithmetic: x * 2.0, x @ coeffs, sums over weights."""

    @qx.circuit(n_qubits=2)
    def circ(q, x, w):
        q.ry(x @ np.array([0.5, -1.0, 2.0]), 0)
        q.ry((2.0 * x - w)[1] + w.sum(), 1)
        return [q.expval(qx.Z(0)), q.expval(qx.Z(1))]

    rng = np.random.default_rng(9)
    x = rng.uniform(-2, 2, size=(5, 3))
    w = rng.uniform(-2, 2, size=3)
    want = np.stack(
        [np.cos(x @ np.array([0.5, -1.0, 2.0])), np.cos(2 * x[:, 1] - w[1] + w.sum())], 1
    )
    np.testing.assert_allclose(circ(x, w), want, atol=1e-12)


LEFT_NUMPY = [
    ("np.float64 * x", lambda x, w: np.float64(1.5) * x[0], lambda x, w: 1.5 * x[0]),
    ("np.sqrt(2) * w", lambda x, w: np.sqrt(2) * w[0], lambda x, w: np.sqrt(2) * w[0] + 0 * x[0]),
    ("np.float32 + x", lambda x, w: np.float32(0.5) + x[1], lambda x, w: 0.5 + x[1]),
    ("(x - w[0])[1]", lambda x, w: (x - w[0])[1], lambda x, w: x[1] - w[0]),
]


@pytest.mark.parametrize(
    ("sym", "ref"), [c[1:] for c in LEFT_NUMPY], ids=[c[0] for c in LEFT_NUMPY]
)
def test_numpy_scalar_on_the_left_is_affine(sym, ref):
    circ = ry_z(1, [sym])
    x = np.array([[0.3, -0.4, 1.0], [1.2, 0.1, -2.0]])
    w = np.array([0.7, 0.2])
    np.testing.assert_allclose(circ(x, w), np.cos(ref(x.T, w))[:, None], atol=1e-12)


def test_all_affine_parameters_in_one_circuit():
    circ = ry_z(len(AFFINE), [c[1] for c in AFFINE])
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, size=(4, 3))
    w = rng.uniform(-2, 2, size=2)
    want = np.stack([np.cos(c[2](x.T, w)) * np.ones(4) for c in AFFINE], axis=1)
    np.testing.assert_allclose(circ(x, w), want, atol=1e-12)
    prog = circ.program((3,), [(2,)])
    assert prog.gather is None
    # one column per distinct non-constant expression; the two constants are not columns
    assert prog.n_params == len(AFFINE) - 2
    # theta map: theta = x @ a_in + w @ a_w + const
    theta = prog.theta_numpy(x, w, 4, np.float64)
    np.testing.assert_allclose(theta, x @ prog.a_in + w @ prog.a_w + prog.const, atol=0)


def test_pure_gather_theta_map():
    """Angles that are plain variables compile to a column selection."""

    @qx.circuit(n_qubits=2)
    def circ(q, x, w):
        q.ry(w[1], 0)
        q.ry(x[2], 1)
        q.rz(x[0], 0)
        q.rx(w[1], 1)  # reused
        return [q.expval(qx.Z(0)), q.expval(qx.Z(1))]

    prog = circ.program((3,), [(2,)])
    assert prog.gather is not None and prog.n_params == 3
    rng = np.random.default_rng(2)
    x = rng.uniform(-2, 2, size=(6, 3))
    w = rng.uniform(-2, 2, size=2)
    theta = prog.theta_numpy(x, w, 6, np.float64)
    np.testing.assert_array_equal(theta, np.stack([w[1] * np.ones(6), x[:, 2], x[:, 0]], 1))
    np.testing.assert_allclose(
        circ(x, w),
        np.stack([np.cos(w[1]) * np.ones(6), np.cos(x[:, 2]) * np.cos(w[1])], 1),
        atol=1e-12,
    )
    # the native backward's pull-back through the selection equals the affine map's transpose
    g = rng.normal(size=(6, 2))
    _, saved = prog.circuit.forward(x, w, 6, save=True)
    gx, gw = prog.circuit.backward(saved, g)
    g_theta = _core.vjp(prog.tape, theta, prog.observables, g)
    np.testing.assert_allclose(gx, g_theta @ prog.a_in.T, atol=1e-12)
    np.testing.assert_allclose(gw, g_theta.sum(0) @ prog.a_w.T, atol=1e-12)
    assert prog.circuit.backward(saved, g, need_x=False)[0] is None
    # torch gives the same through its own (cached) theta map
    np.testing.assert_allclose(circ(torch.tensor(x), torch.tensor(w)).numpy(), circ(x, w), atol=0)


def test_native_calls_take_broadcast_strided_and_float32_arrays():
    """Non-contiguous arrays reach the native circuit as numpy's C-contiguous float64 copies:
    a broadcast cotangent (what ``sum()``'s backward hands over, stride 0), a transposed
    input, a float32 weight vector taken with a step; same values as contiguous copies."""

    @qx.circuit(n_qubits=2)
    def circ(q, x, w):
        q.ry(x[0] + 0.5 * w[0], 0)
        q.rx(x[1], 1)
        q.cnot(0, 1)
        q.ry(w[1], 1)
        return [q.expval(qx.Z(0)), q.expval(qx.Z(1))]

    rng = np.random.default_rng(5)
    xt = rng.uniform(-2, 2, size=(2, 7)).T  # [7, 2], Fortran order
    w_wide = rng.uniform(-2, 2, size=4)
    circ(np.ascontiguousarray(xt), w_wide[::2].copy())  # records the program
    prog = circ.program((2,), [(2,)])
    want_out, saved = prog.circuit.forward(np.ascontiguousarray(xt), w_wide[::2].copy(), 7, True)
    out, saved_strided = prog.circuit.forward(xt, w_wide[::2], 7, True)
    np.testing.assert_array_equal(out, want_out)
    ones = np.broadcast_to(np.float64(1.0), (7, 2))
    assert ones.strides == (0, 0)
    want = prog.circuit.backward(saved, np.ones((7, 2)))
    for got in (prog.circuit.backward(saved, ones), prog.circuit.backward(saved_strided, ones)):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    # float32 in: float32 out, from a strided float32 array as from a contiguous one
    w32 = w_wide.astype(np.float32)
    out32, _ = prog.circuit.forward(xt.astype(np.float32), w32[::2], 7)
    ref32, _ = prog.circuit.forward(np.ascontiguousarray(xt, np.float32), w32[::2].copy(), 7)
    assert out32.dtype == np.float32
    np.testing.assert_array_equal(out32, ref32)


# ----------------------------------------------------------------------------------------
# array types and precision


@pytest.fixture
def basic():
    @qx.circuit(n_qubits=2)
    def circ(q, x, w):
        q.ry(x[0], 0)
        q.ry(x[1] + w[0], 1)
        q.cnot(0, 1)
        return [q.expval(qx.Z(0)), q.expval(qx.Z(1)), q.expval(qx.X(0))]

    def want(x, w):
        x = np.asarray(x, np.float64)
        a, b = x[..., 0], x[..., 1] + w[0]
        return np.stack([np.cos(a), np.cos(a) * np.cos(b), np.sin(a) * np.sin(b)], -1)

    return circ, want


def test_numpy_in_numpy_out(basic):
    circ, want = basic
    x, w = np.array([[0.1, 0.2], [0.3, 0.4]]), np.array([0.5])
    y = circ(x, w)
    assert type(y) is np.ndarray and y.dtype == np.float64 and y.shape == (2, 3)
    np.testing.assert_allclose(y, want(x, w), atol=1e-12)
    # python lists are numpy-like too
    y2 = circ(x.tolist(), [0.5])
    assert type(y2) is np.ndarray
    np.testing.assert_allclose(y2, y, atol=0)


def test_torch_in_torch_out(basic):
    circ, want = basic
    x, w = torch.tensor([[0.1, 0.2], [0.3, 0.4]], dtype=torch.float64), torch.tensor([0.5])
    y = circ(x, w.double())
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float64 and y.shape == (2, 3)
    np.testing.assert_allclose(y.numpy(), want(x.numpy(), [0.5]), atol=1e-12)
    # one tensor among the arguments is enough for torch out
    y2 = circ(x, np.array([0.5]))
    assert isinstance(y2, torch.Tensor)
    torch.testing.assert_close(y2, y, atol=0, rtol=0)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_precision_follows_input_dtype(basic, dt):
    circ, want = basic
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, size=(4, 2)).astype(dt)
    w = np.array([0.5], dtype=dt)
    y = circ(x, w)
    assert y.dtype == np.dtype(dt)
    tol = 1e-6 if dt == "float32" else 1e-13
    np.testing.assert_allclose(y, want(x, w.astype(np.float64)), atol=tol)
    yt = circ(torch.from_numpy(x), torch.from_numpy(w))
    assert yt.dtype == getattr(torch, dt)
    np.testing.assert_allclose(yt.numpy(), y, atol=tol)


def test_precision_of_other_outputs():
    @qx.circuit(n_qubits=2)
    def circ(q, x):
        q.ry(x[0], 0)
        q.h(1)
        return [q.state(), q.probs(), q.var(qx.Z(0))]

    for dt, cdt in ((np.float32, np.complex64), (np.float64, np.complex128)):
        st, pr, va = circ(np.array([[0.3], [0.9]], dtype=dt))
        assert st.dtype == cdt and pr.dtype == dt and va.dtype == dt
        np.testing.assert_allclose(np.abs(st) ** 2, pr, atol=1e-6)
        np.testing.assert_allclose(va, np.sin([0.3, 0.9]) ** 2, atol=1e-6)


def test_mixed_numpy_precisions_run_float64_and_dtype_override(basic):
    circ, _ = basic
    x = np.array([[0.1, 0.2]], dtype=np.float32)
    assert circ(x, np.array([0.5])).dtype == np.float64  # one float64 -> float64
    assert circ(x, np.array([0.5], np.float32)).dtype == np.float32
    assert circ(x, np.array([0.5]), dtype=np.float32).dtype == np.float32
    xt = torch.tensor([[0.1, 0.2]], dtype=torch.float64)
    assert circ(xt, torch.tensor([0.5]), dtype=torch.float32).dtype == torch.float32


# ----------------------------------------------------------------------------------------
# shapes


def test_batched_vs_single_vs_multidim(basic):
    circ, want = basic
    rng = np.random.default_rng(4)
    w = np.array([0.3])
    x3 = rng.uniform(-2, 2, size=(2, 5, 2))
    y3 = circ(x3, w)
    assert y3.shape == (2, 5, 3)
    np.testing.assert_allclose(y3, want(x3, w), atol=1e-12)
    y2 = circ(x3.reshape(10, 2), w)
    assert y2.shape == (10, 3)
    np.testing.assert_allclose(y2, y3.reshape(10, 3), atol=0)
    y1 = circ(x3[1, 2], w)
    assert y1.shape == (3,)
    np.testing.assert_allclose(y1, y3[1, 2], atol=1e-15)
    yt = circ(torch.tensor(x3), torch.tensor(w))
    assert yt.shape == (2, 5, 3)
    # batch of one keeps its batch axis
    assert circ(x3[:1, 0], w).shape == (1, 3)


def test_single_measurement_vs_list_shapes():
    def make(ret):
        @qx.circuit(n_qubits=2)
        def circ(q, x):
            q.ry(x[0], 0)
            return ret(q)

        return circ

    single = make(lambda q: q.expval(qx.Z(0)))
    listed = make(lambda q: [q.expval(qx.Z(0))])
    tupled = make(lambda q: (q.expval(qx.Z(0)), q.var(qx.Z(0))))
    xb, x1 = np.array([[0.1], [0.2], [0.3]]), np.array([0.4])
    assert single(xb).shape == (3,)
    assert np.ndim(single(x1)) == 0
    np.testing.assert_allclose(single(x1), np.cos(0.4), atol=1e-12)
    assert listed(xb).shape == (3, 1)
    assert listed(x1).shape == (1,)
    y = tupled(xb)
    assert isinstance(y, np.ndarray) and y.shape == (3, 2)  # expval + var stack
    np.testing.assert_allclose(y[:, 1], np.sin(xb[:, 0]) ** 2, atol=1e-12)
    t = single(torch.tensor([0.4], dtype=torch.float64))
    assert isinstance(t, torch.Tensor) and t.shape == ()
    assert single(torch.tensor(xb)).shape == (3,)


def test_mixed_measurement_list_returns_tuple():
    @qx.circuit(n_qubits=2)
    def circ(q, x):
        q.ry(x[0], 0)
        q.cnot(0, 1)
        return [
            q.expval(qx.Z(1)),
            q.probs([1]),
            q.state(),
            q.sample([0, 1], shots=20, seed=5),
            q.counts([0], shots=9, seed=5),
            q.var(qx.X(0)),
        ]

    x = np.array([[0.0], [np.pi]])
    out = circ(x)
    assert isinstance(out, tuple) and len(out) == 6
    ev, pr, st, sa, co, va = out
    np.testing.assert_allclose(ev, [1.0, -1.0], atol=1e-12)
    assert pr.shape == (2, 2)
    np.testing.assert_allclose(pr, [[1, 0], [0, 1]], atol=1e-12)
    assert st.shape == (2, 4)
    np.testing.assert_allclose(np.abs(st[1, 3]), 1.0, atol=1e-12)
    assert sa.shape == (2, 20, 2) and sa.dtype == np.uint8
    assert (sa[0] == 0).all() and (sa[1] == 1).all()
    assert co == [{"0": 9}, {"1": 9}]
    assert va.shape == (2,)

    single = circ(np.array([np.pi]))
    assert single[0].shape == () and single[1].shape == (2,) and single[3].shape == (20, 2)
    assert single[4] == {"1": 9}

    tout = circ(torch.tensor(x))
    assert isinstance(tout, tuple) and all(isinstance(t, torch.Tensor) for t in tout[:4])


def test_inputs_none_and_named_inputs():
    @qx.circuit(n_qubits=1, inputs=None)
    def weights_only(q, a, b):
        q.rx(a[0], 0)
        q.ry(b, 0)
        return q.expval(qx.Z(0))

    y = weights_only(np.array([0.3]), 0.2)
    assert np.ndim(y) == 0
    np.testing.assert_allclose(y, np.cos(0.3) * np.cos(0.2), atol=1e-12)

    @qx.circuit(n_qubits=1, inputs="b")
    def named(q, a, b):
        q.rx(a, 0)
        q.ry(b[0], 0)
        return q.expval(qx.Z(0))

    y = named(0.3, np.array([[0.2], [0.1]]))  # b is batched, a is a shared weight
    np.testing.assert_allclose(y, np.cos(0.3) * np.cos([0.2, 0.1]), atol=1e-12)

    @qx.circuit(n_qubits=1)
    def no_args(q):
        q.h(0)
        return q.expval(qx.X(0))

    np.testing.assert_allclose(no_args(), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="zz"):
        qx.circuit(n_qubits=1, inputs="zz")(lambda q, a: q.state())


# ----------------------------------------------------------------------------------------
# compile cache


def test_compile_cache_reused_for_same_shapes():
    calls = []

    @qx.circuit(n_qubits=2)
    def circ(q, x, w):
        calls.append(1)
        q.ry(x[0], 0)
        for k in range(w.shape[0]):
            q.rx(w[k], 1)
        return [q.expval(qx.Z(0)), q.expval(qx.Z(1))]

    rng = np.random.default_rng(6)
    w = rng.uniform(size=3)
    circ(rng.uniform(size=(4, 1)), w)
    circ(rng.uniform(size=(4, 1)), w)
    circ(rng.uniform(size=(9, 1)), w)  # another batch size: same program
    circ(rng.uniform(size=(2, 3, 1)), w)
    circ(rng.uniform(size=1), w)
    circ(torch.rand(5, 1), torch.rand(3))  # torch shares the programs
    circ(torch.rand(5, 1, dtype=torch.float64), torch.rand(3, dtype=torch.float64))
    circ(rng.uniform(size=(4, 1)).astype(np.float32), w.astype(np.float32))
    assert len(calls) == 1
    p1 = circ.program((1,), [(3,)])
    assert circ.program((1,), [(3,)]) is p1
    assert len(calls) == 1

    y = circ(rng.uniform(size=(4, 1)), rng.uniform(size=5))  # new weight shape: recompiles
    assert len(calls) == 2 and y.shape == (4, 2)
    circ(rng.uniform(size=(4, 1)), rng.uniform(size=5))
    assert len(calls) == 2
    circ.program((1,), [(3,)])
    assert len(calls) == 2  # the old program is still cached


def test_compile_cache_is_per_circuit_and_recompiles_for_new_feature_count():
    calls = []

    def body(q, x):
        calls.append(x.shape)
        for i in range(x.shape[0]):
            q.ry(x[i], 0)
        return q.expval(qx.Z(0))

    a = qx.circuit(n_qubits=1)(body)
    b = qx.circuit(n_qubits=1)(body)
    np.testing.assert_allclose(a(np.array([0.1, 0.2])), np.cos(0.3), atol=1e-12)
    np.testing.assert_allclose(a(np.array([[0.1, 0.2, 0.3]])), [np.cos(0.6)], atol=1e-12)
    b(np.array([0.1, 0.2]))
    assert calls == [(2,), (3,), (2,)]


# ----------------------------------------------------------------------------------------
# state preparation


def test_state_prep_sets_the_initial_state():
    rng = np.random.default_rng(7)
    psi = rng.normal(size=8) + 1j * rng.normal(size=8)
    psi /= np.linalg.norm(psi)
    u = random_unitary(1, rng)

    @qx.circuit(n_qubits=3)
    def circ(q, x):
        q.state_prep(psi)
        q.ry(x[0], 2)
        q.qubit_unitary(u, 0)
        return q.state()

    for theta in (0.0, 0.7):
        ry = np.array(
            [[np.cos(theta / 2), -np.sin(theta / 2)], [np.sin(theta / 2), np.cos(theta / 2)]]
        )
        full = np.kron(u, np.kron(np.eye(2), ry))  # wire 0 is the high bit
        np.testing.assert_allclose(circ(np.array([theta])), full @ psi, atol=1e-12)
    # batched: every sample starts from psi
    out = circ(np.array([[0.0], [0.0], [0.0]]))
    np.testing.assert_allclose(out, np.tile(np.kron(u, np.eye(4)) @ psi, (3, 1)), atol=1e-12)
    # float32 run gets a complex64 initial state
    out32 = circ(np.array([0.0], dtype=np.float32))
    assert out32.dtype == np.complex64
    np.testing.assert_allclose(out32, np.kron(u, np.eye(4)) @ psi, atol=1e-6)


@pytest.mark.parametrize("bits", [[0, 0, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]])
def test_basis_state(bits):
    @qx.circuit(n_qubits=3)
    def circ(q, x):
        q.basis_state(bits)
        q.rz(x[0], 0)  # diagonal: <Z> unchanged
        return [q.expval(qx.Z(i)) for i in range(3)] + [q.expval(qx.Projector(bits, [0, 1, 2]))]

    y = circ(np.array([[0.4], [1.1]]))
    np.testing.assert_allclose(y[:, :3], np.tile(1 - 2 * np.array(bits), (2, 1)), atol=1e-12)
    np.testing.assert_allclose(y[:, 3], 1.0, atol=1e-12)


def test_state_prep_with_torch_gradients():
    rng = np.random.default_rng(8)
    psi = rng.normal(size=4) + 1j * rng.normal(size=4)
    psi /= np.linalg.norm(psi)

    @qx.circuit(n_qubits=2)
    def circ(q, x):
        q.state_prep(psi)
        q.ry(x[0], 1)
        return q.expval(qx.Z(1))

    # reference: RY on wire 1 (the low bit) of psi
    def ref(theta):
        ry = np.array(
            [[np.cos(theta / 2), -np.sin(theta / 2)], [np.sin(theta / 2), np.cos(theta / 2)]]
        )
        s = np.kron(np.eye(2), ry) @ psi
        return float(np.real(np.vdot(s, np.kron(np.eye(2), np.diag([1, -1])) @ s)))

    x = torch.tensor([[0.3], [1.4]], dtype=torch.float64, requires_grad=True)
    y = circ(x)
    np.testing.assert_allclose(y.detach().numpy(), [ref(0.3), ref(1.4)], atol=1e-12)
    y.sum().backward()
    fd = [(ref(t + 1e-6) - ref(t - 1e-6)) / 2e-6 for t in (0.3, 1.4)]
    np.testing.assert_allclose(x.grad[:, 0].numpy(), fd, atol=1e-7)


def test_public_names_and_repr():
    for name in ("circuit", "X", "Y", "Z", "I", "Hermitian", "Projector", "Program", "GATES"):
        assert hasattr(qx, name)
    assert "RX" in qx.GATES and "QubitUnitary" in qx.GATES

    @qx.circuit(n_qubits=3)
    def my_net(q, x):
        """Docstring."""
        q.rx(x[0], 0)
        return q.expval(qx.Z(0))

    assert my_net.__name__ == "my_net" and my_net.__doc__ == "Docstring."
    assert "my_net" in repr(my_net) and "3" in repr(my_net)
    prog = my_net.program((1,), [])
    assert prog.n_qubits == 3 and prog.tape.n_qubits == 3 and prog.tape.n_ops == 1
