"""Threads, fork and the thread-count knob: native calls release the GIL, concurrent calls
give the serial results, a forked child can still compute, set/get_num_threads round-trip."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time

import numpy as np
import pytest
import qoxide as qx
import torch
from qoxide import _core

try:
    from ._grad_helpers import layered_circuit, num_threads, theta_of
except ImportError:
    from _grad_helpers import layered_circuit, num_threads, theta_of

N_BIG = 18  # 2^18 amplitudes: a call takes a good fraction of a second


@pytest.fixture(scope="module")
def big():
    """An 18-qubit circuit, its compiled program and two different inputs."""
    circ = layered_circuit(N_BIG, n_obs=3)
    rng = np.random.default_rng(2024)
    w = rng.uniform(-2, 2, size=(6, N_BIG, 2))
    xs = [rng.uniform(-2, 2, size=N_BIG), rng.uniform(-2, 2, size=N_BIG)]
    prog = circ.program((N_BIG,), [w.shape])
    return circ, prog, w, xs


def test_native_call_releases_the_gil(big):
    """While one thread is inside a long native call, another thread keeps running Python.
    If the GIL were held, the ticking thread could not tick until the call returned."""
    _, prog, w, xs = big
    theta = theta_of(prog, xs[0][None], [w])
    g = np.ones((1, len(prog.observables)))
    span = {}
    started = threading.Event()

    def worker():
        started.set()
        t0 = time.perf_counter()
        _core.vjp(prog.tape, theta, prog.observables, g)
        span["call"] = (t0, time.perf_counter())

    with num_threads(1):  # leave the other core to the ticking thread
        th = threading.Thread(target=worker)
        th.start()
        started.wait()
        ticks = []
        while th.is_alive():
            ticks.append(time.perf_counter())
            time.sleep(0.001)
        th.join()
    t0, t1 = span["call"]
    assert t1 - t0 > 0.08, f"native call too short ({t1 - t0:.3f} s) to test anything"
    inside = np.array([t for t in ticks if t0 + 0.01 < t < t1 - 0.01])
    assert len(inside) >= 10, f"only {len(inside)} ticks during a {t1 - t0:.3f} s native call"
    gaps = np.diff(np.concatenate([[t0], inside, [t1]]))
    assert gaps.max() < 0.5 * (t1 - t0), f"main thread stalled {gaps.max():.3f} s"


def test_two_threads_give_serial_results(big):
    circ, prog, w, xs = big
    small = layered_circuit(5, n_obs=5)
    rng = np.random.default_rng(1)
    xsmall = rng.uniform(-2, 2, size=(32, 5))
    wsmall = rng.uniform(-2, 2, size=(3, 5, 2))

    serial = [circ(xs[0], w), circ(xs[1], w), small(xsmall, wsmall)]
    theta = theta_of(prog, xs[1][None], [w])
    g = np.array([[1.0, -0.5, 2.0]])
    vjp_serial = _core.vjp(prog.tape, theta, prog.observables, g)

    results: dict[str, list] = {"a": [], "b": []}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run_a():
        try:
            barrier.wait()
            for _ in range(3):
                results["a"].append((circ(xs[0], w), small(xsmall, wsmall)))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    def run_b():
        try:
            barrier.wait()
            for _ in range(3):
                results["b"].append(
                    (circ(xs[1], w), _core.vjp(prog.tape, theta, prog.observables, g))
                )
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run_a), threading.Thread(target=run_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "threads hung"
    assert not errors, errors
    assert len(results["a"]) == 3 and len(results["b"]) == 3
    for ya, ys in results["a"]:
        np.testing.assert_allclose(ya, serial[0], atol=1e-12)
        np.testing.assert_allclose(ys, serial[2], atol=1e-12)
    for yb, jb in results["b"]:
        np.testing.assert_allclose(yb, serial[1], atol=1e-12)
        np.testing.assert_allclose(jb, vjp_serial, atol=1e-12)
    # the two inputs really give different answers (results not swapped between threads)
    assert np.abs(serial[0] - serial[1]).max() > 1e-3


def test_threads_share_one_torch_circuit_with_backward():
    circ = layered_circuit(14, n_obs=2)
    rng = np.random.default_rng(3)
    w = rng.uniform(-2, 2, size=(3, 14, 2))
    xs = [rng.uniform(-2, 2, size=(2, 14)) for _ in range(4)]

    def fwd_bwd(x):
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(w, requires_grad=True)
        y = circ(xt, wt)
        (y * torch.tensor([1.0, -2.0], dtype=torch.float64)).sum().backward()
        return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()

    serial = [fwd_bwd(x) for x in xs]
    out: list = [None] * len(xs)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(xs))

    def run(i):
        try:
            barrier.wait()
            out[i] = fwd_bwd(xs[i])
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for got, want in zip(out, serial, strict=True):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-12)


def test_concurrent_first_calls_compile_correctly():
    """Several threads hitting a fresh circuit at once (empty compile cache)."""
    calls = []

    @qx.circuit(n_qubits=3)
    def circ(q, x, w):
        calls.append(1)
        for i in range(3):
            q.ry(x[i] + w[i], i)
        return [q.expval(qx.Z(i)) for i in range(3)]

    rng = np.random.default_rng(4)
    xs = [rng.uniform(-2, 2, size=(5, 3)) for _ in range(4)]
    w = rng.uniform(-1, 1, size=3)
    out: list = [None] * 4
    barrier = threading.Barrier(4)

    def run(i):
        barrier.wait()
        out[i] = circ(xs[i], w)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for x, y in zip(xs, out, strict=True):
        np.testing.assert_allclose(y, np.cos(x + w), atol=1e-12)
    assert 1 <= len(calls) <= 4


def test_changing_thread_count_while_another_thread_computes(big):
    """Resizing the pool replaces it; a call running in the old pool must still finish."""
    _, prog, w, xs = big
    theta = theta_of(prog, xs[0][None], [w])
    want = _core.expval(prog.tape, theta, prog.observables)
    got = []
    stop = threading.Event()

    def worker():
        while not stop.is_set() or len(got) < 2:
            got.append(_core.expval(prog.tape, theta, prog.observables))

    old = qx.get_num_threads()
    th = threading.Thread(target=worker)
    th.start()
    try:
        for k in range(12):
            qx.set_num_threads(1 + k % 3)
            time.sleep(0.02)
    finally:
        stop.set()
        th.join(timeout=120)
        qx.set_num_threads(old)
    assert not th.is_alive()
    assert len(got) >= 2
    for y in got:
        np.testing.assert_allclose(y, want, atol=1e-12)


# ----------------------------------------------------------------------------------------
# fork


def _child_work(seed):
    """What the forked child computes (numpy only: no torch in a forked child)."""
    rng = np.random.default_rng(seed)
    big = layered_circuit(15, n_obs=2)  # batch 1, 2^15 amplitudes: amplitude-parallel
    w_big = rng.uniform(-2, 2, size=(2, 15, 2))
    x_big = rng.uniform(-2, 2, size=15)
    small = layered_circuit(4, n_obs=4)  # batch 64: batch-parallel
    w_small = rng.uniform(-2, 2, size=(6, 4, 2))
    x_small = rng.uniform(-2, 2, size=(64, 4))
    prog = small.program((4,), [w_small.shape])
    theta = theta_of(prog, x_small, [w_small])
    return [
        big(x_big, w_big),
        small(x_small, w_small),
        _core.jacobian(prog.tape, theta, prog.observables),
    ]


def _child_main(conn, seed):
    try:
        conn.send(("ok", _child_work(seed), qx.get_num_threads()))
    except BaseException as e:  # noqa: BLE001
        conn.send(("error", repr(e), None))
    finally:
        conn.close()


def test_forked_child_computes_after_parent_used_the_pool(big):
    circ, _, w, xs = big
    with num_threads(2):
        circ(xs[0], w)  # parent: the pool and its worker threads now exist
        want = _child_work(7)  # the parent's answer, also through the pool
        ctx = mp.get_context("fork")
        parent_conn, child_conn = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child_main, args=(child_conn, 7), daemon=True)
        proc.start()
        child_conn.close()
        try:
            if not parent_conn.poll(60):
                pytest.fail("forked child hung computing a circuit (stale thread pool?)")
            status, payload, threads = parent_conn.recv()
        finally:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()
    assert status == "ok", payload
    assert threads == 2
    for got, exp in zip(payload, want, strict=True):
        np.testing.assert_allclose(got, exp, atol=1e-12)
    assert proc.exitcode == 0
    # and the parent still works afterwards
    np.testing.assert_allclose(circ(xs[0], w), circ(xs[0], w), atol=0)


# ----------------------------------------------------------------------------------------
# thread count


def test_set_get_num_threads_round_trip():
    old = qx.get_num_threads()
    try:
        qx.set_num_threads(0)
        default = qx.get_num_threads()
        assert default >= 1
        for n in (1, 3, 2, 7):
            qx.set_num_threads(n)
            assert qx.get_num_threads() == n
        qx.set_num_threads(0)
        assert qx.get_num_threads() == default
        with pytest.raises((OverflowError, ValueError, TypeError)):
            qx.set_num_threads(-1)
        assert qx.get_num_threads() == default
        assert qx.get_num_threads is _core.get_num_threads
    finally:
        qx.set_num_threads(old)


@pytest.mark.parametrize("n_qubits, batch", [(15, 1), (4, 64)], ids=["amp-par", "batch-par"])
def test_results_independent_of_thread_count(n_qubits, batch):
    circ = layered_circuit(n_qubits, n_obs=2)
    rng = np.random.default_rng(n_qubits)
    w = rng.uniform(-2, 2, size=(6, n_qubits, 2))
    x = rng.uniform(-2, 2, size=(batch, n_qubits))
    prog = circ.program((n_qubits,), [w.shape])
    theta = theta_of(prog, x, [w])
    g = rng.normal(size=(batch, 2))
    runs = []
    for n in (1, 2, 3):
        with num_threads(n):
            assert qx.get_num_threads() == n
            runs.append(
                (
                    _core.expval(prog.tape, theta, prog.observables),
                    _core.vjp(prog.tape, theta, prog.observables, g),
                    _core.probs(prog.tape, theta, [0, 1]),
                    _core.sample(prog.tape, theta, [0, 1], 50, 11),
                )
            )
    for other in runs[1:]:
        for a, b in zip(runs[0][:3], other[:3], strict=True):
            np.testing.assert_allclose(a, b, atol=1e-12)
        np.testing.assert_array_equal(runs[0][3], other[3])  # seeded samples: identical
