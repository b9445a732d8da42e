"""Fuzzing the native entry points (``qoxide._core``) with random, mostly invalid input.

Hypothesis draws whole cases: a ``Tape`` (sizes, then ``add`` calls with random names,
wires, parameters, matrices, control values), observables (Pauli sums, Hermitian matrices,
projectors, sums) and one compute call (expval, var, probs, state, sample, jacobian, vjp,
expval_and_state, final-state reuse) with theta / init_state / grad_out arrays of random
shape, dtype, byte order and memory layout, and values that include NaN, inf and 1e300.

The contract checked: every failure is a Python exception of a documented kind
(``ValueError``, ``TypeError``, ``MemoryError``, ``OverflowError`` and their subclasses) --
never a crash, never a ``RuntimeError("qoxide internal error ...")`` (a caught Rust panic),
never a ``PanicException``, and a successful call returns finite-shaped numpy arrays.

Each batch of cases runs in a SUBPROCESS (this file, run as a script), so a native abort or
segfault fails the test with the batch's hypothesis seed and the last case started instead
of killing pytest. Sizes are bounded (at most 8 qubits, batch 8, 3-wire matrices) so the
whole test takes a few seconds on two cores.

Native bugs it found are kept below as fixed regression cases (``FIXED_NATIVE_BUGS``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis_profiles import examples

ALLOWED = (ValueError, TypeError, MemoryError, OverflowError)
ROOT = Path(__file__).resolve().parents[1]
# (hypothesis seed, examples) per subprocess
BATCHES = [(1, examples(100)), (2, examples(100)), (3, examples(100))]
MAX_SMALL_QUBITS = 8


def _load_core() -> Any:
    """``qoxide._core`` without importing the package (torch): each subprocess starts in
    a fraction of a second."""
    import qoxide

    return qoxide._core  # pragma: no cover - only when the fast path below is unavailable


def _core_module() -> Any:
    for base in [Path(p) for p in sys.path if p] + [ROOT / "python"]:
        for so in sorted((base / "qoxide").glob("_core*.so")) + sorted(
            (base / "qoxide").glob("_core*.pyd")
        ):
            spec = importlib.util.spec_from_file_location("qoxide._core", so)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    return _load_core()


# the worker: strategies and one case ------------------------------------------------------
def _arities(core: Any) -> dict[str, list[tuple[int, int]]]:
    """(wires, parameters) counts each gate accepts, probed once on a throwaway tape."""
    rng = np.random.default_rng(0)
    out: dict[str, list[tuple[int, int]]] = {}
    for name in core.GATES:
        ok = []
        for kw in range(4):
            for kp in range(4):
                unitary = None
                if name == "QubitUnitary" and kw:
                    z = rng.normal(size=(2**kw, 2**kw)) + 1j * rng.normal(size=(2**kw, 2**kw))
                    unitary = np.linalg.qr(z)[0]
                cv = [True] * (kw - 1) if name == "MultiControlledX" and kw > 1 else []
                try:
                    core.Tape(4, 4).add(name, list(range(kw)), list(range(kp)), False, unitary, cv)
                    ok.append((kw, kp))
                except ALLOWED:
                    pass
        out[name] = ok
    return out


def _strategies(core: Any) -> Any:  # noqa: C901 - one place that describes every case
    """Whole cases: mostly valid (so that the compute paths run), each part replaced by a
    hostile value with a small probability."""
    from hypothesis import strategies as st

    arities = _arities(core)
    weird_ints = st.sampled_from([-1, -(2**63), 2**31, 2**32, 2**63, 2**64, 2**200])
    weird_n = st.one_of(
        weird_ints, st.sampled_from([0, core.MAX_QUBITS + 1, 10**6, 2.0, "3", None, True])
    )
    weird_wires = st.one_of(
        st.lists(st.one_of(st.integers(-3, 9), weird_ints), max_size=4),
        st.sampled_from([None, "01", 3, [0.5], [[0, 1]], (), [0, 0]]),
        st.lists(st.integers(0, 5), max_size=3).map(lambda w: np.array(w, dtype=np.int64)),
    )
    number = st.one_of(
        st.floats(-10, 10),
        st.floats(-10, 10),
        st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300, -0.0]),
    )
    weird_param = st.one_of(weird_ints, st.sampled_from([None, "1", 1j, True, -1, 99]))
    dtypes = ["f2", "i8", "u1", "c16", "c8", "O", "?", ">f8", ">f4", ">c16", "U1"]
    array = st.fixed_dictionaries(
        {
            "shape": st.lists(
                st.one_of(st.integers(0, 4), st.sampled_from([8, 16, 32])), max_size=3
            ).map(tuple),
            "dtype": st.sampled_from(["f8", "f4", *dtypes]),
            "layout": st.sampled_from(["C", "C", "F", "strided", "broadcast", "list"]),
            "fill": st.sampled_from(["random", "random", "nan", "inf", "huge", "zero"]),
        }
    )

    def sometimes(draw: Any, valid: Any, hostile: Any, rate: int = 10) -> Any:
        """``valid`` usually; ``hostile`` about once in ``rate`` draws."""
        return draw(hostile) if draw(st.integers(0, rate - 1)) == 0 else draw(valid)

    def matrix(draw: Any, k: int, hermitian: bool) -> Any:
        d = 2**k
        seed = draw(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        z = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
        z = z + z.conj().T if hermitian else np.linalg.qr(z)[0]
        if draw(st.integers(0, 7)) == 0:  # hostile: other dtype, order or shape
            how = draw(st.sampled_from(["f8", "c8", ">c16", "O", "F", "strided", "array"]))
            if how == "F":
                return np.asfortranarray(z.T)
            if how == "strided":
                return np.repeat(z, 2, axis=1)[:, ::2]
            if how == "array":
                return _array(draw(array), None, rng)
            return z.real.astype(how) if how == "f8" else z.astype(how)
        return z

    @st.composite
    def op(draw: Any, n: int, p: int) -> tuple:
        if draw(st.integers(0, 9)) == 0:  # hostile name / wires / params
            name = draw(
                st.one_of(
                    st.sampled_from(list(core.GATES)),
                    st.sampled_from(["", "rx", "Rx ", "CNOT\x00", "U4", "Barrier", 7, None]),
                )
            )
            wires = draw(weird_wires)
            params = draw(st.lists(st.one_of(st.integers(0, 4), number, weird_param), max_size=4))
            return name, wires, params, draw(st.sampled_from([False, 1, None])), None, ()
        choices = [(g, a) for g, ars in arities.items() for a in ars if a[0] <= n]
        name, (kw, kp) = draw(st.sampled_from(choices))
        wires = draw(st.permutations(range(n)))[:kw]
        cols = st.integers(0, p - 1) if p else number
        params = [draw(st.one_of(cols, cols, number)) for _ in range(kp)]
        mat = matrix(draw, kw, hermitian=False) if name == "QubitUnitary" else None
        cv: Any = ()
        if name == "MultiControlledX" and draw(st.booleans()):
            cv = draw(st.lists(st.booleans(), min_size=kw - 1, max_size=kw - 1))
        if draw(st.integers(0, 19)) == 0:
            cv = draw(st.lists(st.sampled_from([True, 2, None]), max_size=3))
        return name, wires, params, draw(st.booleans()), mat, cv

    @st.composite
    def observable(draw: Any, n: int, depth: int = 0) -> tuple:
        n_obs = sometimes(draw, st.just(n), weird_n, 12)
        kind = draw(st.sampled_from(["pauli", "pauli", "hermitian", "projector", "sum"]))
        if kind == "sum" and depth == 0:
            terms = st.tuples(number, observable(n, 1))
            return ("sum", draw(st.lists(terms, max_size=3)))
        if kind in ("pauli", "sum"):
            word = st.lists(
                st.tuples(st.integers(0, n - 1), st.sampled_from("XYZI")),
                max_size=min(n, 3),
                unique_by=lambda t: t[0],
            )
            hostile_word = st.lists(
                st.tuples(
                    st.one_of(st.integers(-2, 9), weird_ints),
                    st.sampled_from(["x", "W", "", "XY", 1, "Z"]),
                ),
                max_size=3,
            )
            terms = st.lists(st.tuples(number, word), max_size=3)
            hostile = st.lists(st.tuples(number, hostile_word), max_size=3)
            return ("pauli", n_obs, sometimes(draw, terms, hostile, 8))
        k = draw(st.integers(1, min(n, 3)))
        wires = sometimes(draw, st.permutations(range(n)).map(lambda w: w[:k]), weird_wires, 8)
        if kind == "hermitian":
            return ("hermitian", n_obs, wires, matrix(draw, k, hermitian=True))
        bits = sometimes(
            draw,
            st.lists(st.integers(0, 1), min_size=k, max_size=k),
            st.one_of(
                st.lists(st.sampled_from([0, 1, 2, -1, 256, 2**64, None]), max_size=4),
                st.none(),
            ),
            8,
        )
        return ("projector", n_obs, wires, bits)

    @st.composite
    def case(draw: Any) -> dict:
        n = sometimes(draw, st.integers(1, 5), weird_n, 12)
        p = sometimes(draw, st.integers(0, 4), st.one_of(weird_ints, st.sampled_from([1.5])), 12)
        small = isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_SMALL_QUBITS
        n_ok = n if small else 2
        p_ok = p if isinstance(p, int) and 0 <= p <= 64 else 0
        b = draw(st.integers(0, 8) if draw(st.integers(0, 9)) == 0 else st.integers(1, 8))
        fit = {"dtype": "f8", "layout": "C", "fill": "random"}
        call = draw(
            st.sampled_from(
                [
                    "expval",
                    "var",
                    "state",
                    "probs",
                    "sample",
                    "jacobian",
                    "vjp",
                    "expval_and_state",
                    "expval_final",
                    "vjp_final",
                ]
            )
        )
        theta_dtype = draw(st.sampled_from(["f8", "f8", "f4"]))
        theta = sometimes(draw, st.just(dict(fit, shape=(b, p_ok), dtype=theta_dtype)), array, 8)
        if draw(st.integers(0, 19)) == 0:
            theta = dict(theta, fill=draw(st.sampled_from(["nan", "inf", "huge"])))
        init_valid = dict(fit, shape=draw(st.sampled_from([(b, 2**n_ok), (2**n_ok,)])))
        init_valid["dtype"] = "c8" if theta.get("dtype") == "f4" else "c16"
        init = draw(st.one_of(st.none(), st.none(), st.none(), st.just(init_valid), array))
        obs = [draw(observable(n_ok)) for _ in range(draw(st.integers(0, 3)))]
        obs = sometimes(draw, st.just(obs), st.lists(st.sampled_from([None, 1, "Z"])), 20)
        m = len(obs) if isinstance(obs, list) else 0
        grad = sometimes(draw, st.just(dict(fit, shape=(b, m), dtype=theta["dtype"])), array, 8)
        final = sometimes(draw, st.just(dict(fit, shape=(b, 2**n_ok), dtype="c16")), array, 6)
        k = draw(st.integers(0, n_ok))
        wires = sometimes(draw, st.permutations(range(n_ok)).map(lambda w: w[:k]), weird_wires)
        return {
            "n": n,
            "P": p,
            "ops": [draw(op(n_ok, p_ok)) for _ in range(draw(st.integers(0, 6)))],
            "obs": obs,
            "call": call,
            "batch": b,
            "theta": theta,
            "init": init,
            "grad": grad,
            "final": final,
            "wires": wires,
            # no huge valid shot counts: they would really allocate and sample gigabytes
            "shots": sometimes(
                draw, st.integers(1, 50), st.sampled_from([0, -1, -(2**63), 2**64, 2**200, 1.5])
            ),
            "seed": sometimes(draw, st.integers(0, 2**63 - 1), weird_ints),
        }

    return case()


def _array(spec: dict, shape: tuple[int, ...] | None = None, rng: Any = None) -> Any:
    """A numpy array (or a nested list) as ``spec`` describes, at most a few thousand
    entries, in the requested dtype, byte order and memory layout."""
    shape = spec["shape"] if shape is None else shape
    rng = rng or np.random.default_rng(0)
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if size > 100_000:
        shape = (1,) * len(shape)
    fill = spec["fill"]
    make = {
        "random": lambda s: rng.normal(size=s) + 1j * rng.normal(size=s),
        "nan": lambda s: np.full(s, np.nan, dtype=complex),
        "inf": lambda s: np.full(s, np.inf, dtype=complex),
        "huge": lambda s: np.full(s, 1e300 + 1e300j),
        "zero": lambda s: np.zeros(s, dtype=complex),
    }[fill]

    def base(s: tuple[int, ...]) -> np.ndarray:
        return np.asarray(make(s), dtype=complex)

    dtype = np.dtype(spec["dtype"])
    layout = spec["layout"]
    if layout == "broadcast" and shape:
        a = np.broadcast_to(_cast(base(shape[-1:]), dtype), shape)
    elif layout == "strided" and shape:
        wide = _cast(base((*shape[:-1], 2 * shape[-1])), dtype)
        a = wide[..., ::2]
    elif layout == "F":
        a = np.asfortranarray(_cast(base(shape), dtype))
    else:
        a = _cast(base(shape), dtype)
    return np.asarray(a).tolist() if layout == "list" else a


def _cast(z: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind in "fiub?":
        with np.errstate(all="ignore"):
            real = np.nan_to_num(z.real, nan=0, posinf=0, neginf=0) if dtype.kind != "f" else z.real
            return real.astype(dtype)
    if dtype.kind == "U":
        return np.full(z.shape, "a", dtype=dtype)
    return z.astype(dtype)


def _observable(core: Any, spec: Any, rng: Any) -> Any:
    if not isinstance(spec, tuple):
        return spec  # hostile: not an observable at all
    kind = spec[0]
    if kind == "pauli":
        return core.Observable.pauli(spec[1], spec[2])
    if kind == "hermitian":
        return core.Observable.hermitian(spec[1], spec[2], spec[3])
    if kind == "projector":
        return core.Observable.projector(spec[1], spec[2], spec[3])
    return core.Observable.sum([(c, _observable(core, leaf, rng)) for c, leaf in spec[1]])


def run_case(core: Any, case: dict) -> None:
    """Run one case; raise AssertionError when the native side breaks the contract."""
    rng = np.random.default_rng(0)

    def step(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except ALLOWED:
            return None
        except RuntimeError as err:
            raise AssertionError(f"RuntimeError from the native core: {err}") from err
        except Exception as err:  # noqa: BLE001 - the contract names the allowed kinds
            raise AssertionError(f"undocumented {type(err).__name__}: {err}") from err
        except BaseException as err:  # PanicException is a BaseException
            if isinstance(err, KeyboardInterrupt):
                raise
            raise AssertionError(f"{type(err).__name__} (a Rust panic?): {err}") from err

    tape = step(core.Tape, case["n"], case["P"])
    if tape is None:
        return
    for name, wires, params, inverse, matrix, control_values in case["ops"]:
        step(tape.add, name, wires, params, inverse, matrix, control_values)
    observables: Any = case["obs"]
    if isinstance(observables, list) and all(isinstance(o, tuple) for o in observables):
        built = [step(_observable, core, s, rng) for s in observables]
        observables = [o for o in built if o is not None]
    n = tape.n_qubits
    if n > MAX_SMALL_QUBITS:
        return  # constructors only: a valid big register would allocate gigabytes
    theta = _array(case["theta"], None, rng)
    init = None if case["init"] is None else _array(case["init"], None, rng)
    grad = _array(case["grad"], None, rng)
    final = _array(case["final"], None, rng)
    wires, shots, seed = case["wires"], case["shots"], case["seed"]
    calls = {
        "expval": lambda th: core.expval(tape, th, observables, init),
        "var": lambda th: core.var(tape, th, observables, init),
        "state": lambda th: core.state(tape, th, init),
        "probs": lambda th: core.probs(tape, th, wires, init),
        "sample": lambda th: core.sample(tape, th, wires, shots, seed, init),
        "jacobian": lambda th: core.jacobian(tape, th, observables, init),
        "vjp": lambda th: core.vjp(tape, th, observables, grad, init),
        "expval_and_state": lambda th: core.expval_and_state(tape, th, observables, init),
        "expval_final": lambda th: core.expval(tape, th, observables, None, final),
        "vjp_final": lambda th: core.vjp(tape, th, observables, grad, None, final),
    }
    call = calls[case["call"]]
    out = step(call, theta)
    if out is None:
        return
    _check_shapes(case["call"], out, np.shape(theta), n, len(observables), wires, shots)
    if isinstance(theta, np.ndarray) and theta.ndim == 2 and theta.size:
        # The same values in another memory layout give the same results (strides are
        # honoured, never read as if contiguous).
        other = np.asfortranarray(theta) if theta.flags.c_contiguous else theta.copy()
        if other.flags.c_contiguous:  # a single row or column: force a strided view
            other = np.repeat(theta, 2, axis=1)[:, ::2]
        again = step(call, other)
        assert again is not None, f"{case['call']} refused theta in another layout"
        for a, b in zip(
            out if isinstance(out, tuple) else (out,),
            again if isinstance(again, tuple) else (again,),
            strict=True,
        ):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, equal_nan=True)


def _check_shapes(
    call: str, out: Any, theta: tuple, n: int, m: int, wires: Any, shots: Any
) -> None:
    """A call that succeeds returns the documented shapes for its theta [B, P]."""
    outs = out if isinstance(out, tuple) else (out,)
    for o in outs:
        assert isinstance(o, np.ndarray), f"{call} returned {type(o).__name__}"
    if len(theta) != 2:
        raise AssertionError(f"{call} accepted theta of shape {theta} (not [B, P])")
    b, p = theta
    k = len(wires) if hasattr(wires, "__len__") else 0
    want = {
        "expval": lambda: [(b, m)],
        "expval_final": lambda: [(b, m)],
        "var": lambda: [(b, m)],
        "state": lambda: [(b, 2**n)],
        "probs": lambda: [(b, 2**k)],
        "sample": lambda: [(b, shots, k)],
        "jacobian": lambda: [(b, m, p)],
        "vjp": lambda: [(b, p)],
        "vjp_final": lambda: [(b, p)],
        "expval_and_state": lambda: [(b, m), (b, 2**n)],
    }[call]()
    got = [o.shape for o in outs]
    assert got == want, f"{call}: shapes {got}, documented {want}"


def _describe(case: dict) -> str:
    text = repr(case)
    return text if len(text) < 4000 else text[:4000] + "..."


def worker(seed: int, examples: int, progress: str) -> int:
    """Run ``examples`` hypothesis cases with ``seed``; before each case its description
    goes to ``progress``, so that the parent can report the case of a native crash."""
    import warnings

    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    warnings.simplefilter("ignore")  # numpy casts of inf/huge test values warn; irrelevant
    selftest = os.environ.get("QOXIDE_FUZZ_SELFTEST", "")
    core = _core_module()
    cases = _strategies(core)

    @hseed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(cases)
    def fuzz(case: dict) -> None:
        with open(progress, "w") as f:
            f.write(_describe(case))
        if selftest == "abort":
            os.abort()  # what a native abort looks like to the parent
        run_case(core, case)

    fuzz()
    return 0


# the test: batches in subprocesses ----------------------------------------------------------
def _run_batch(seed: int, examples: int, tmp: Path, selftest: str = "") -> str | None:
    """Run one batch in a subprocess; None when it passed, else the failure report (how
    it ended, the hypothesis seed, the last case started and the output)."""
    progress = tmp / f"case-{seed}.txt"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), *sys.path]))
    env.setdefault("RAYON_NUM_THREADS", "2")
    env["QOXIDE_FUZZ_SELFTEST"] = selftest
    cmd = [sys.executable, __file__, "--worker", str(seed), str(examples), str(progress)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        how, out = "hung for more than 120 s", ""
    else:
        if proc.returncode == 0:
            return None
        how = (
            f"killed by signal {-proc.returncode}"
            if proc.returncode < 0
            else f"exit status {proc.returncode}"
        )
        out = f"{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    last = progress.read_text() if progress.exists() else "(none)"
    return (
        f"fuzz batch with hypothesis seed={seed} ({examples} examples): {how}\n"
        f"last case started:\n{last}\n--- output ---\n{out}"
    )


@pytest.mark.parametrize(("seed", "examples"), BATCHES)
def test_fuzz_core_entry_points(seed: int, examples: int, tmp_path: Path) -> None:
    pytest.importorskip("hypothesis")
    failure = _run_batch(seed, examples, tmp_path)
    if failure:
        pytest.fail(failure)


def test_fuzz_harness_reports_a_native_abort(tmp_path: Path) -> None:
    """The harness itself: a worker that dies by SIGABRT mid-case is reported with the
    seed and that case, not lost."""
    pytest.importorskip("hypothesis")
    failure = _run_batch(7, 5, tmp_path, selftest="abort")
    assert failure is not None
    assert "seed=7" in failure and "killed by signal 6" in failure, failure
    assert "'call':" in failure, failure


# native bugs found by the fuzzer, pinned for the Rust side ----------------------------------
def _run_isolated(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), *sys.path]))
    prelude = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
    prelude += "from test_fuzz_core import _core_module, ALLOWED\ncore = _core_module()\n"
    script = prelude + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )


FIXED_NATIVE_BUGS = {
    # issue 16 item 10: n_params * batch overflowed the width check; the panic was caught as
    # RuntimeError("qoxide internal error: range end index ... out of range").
    "huge_n_params": """
        import numpy as np
        tape = core.Tape(2, 2**63)
        z = core.Observable.pauli(2, [(1.0, [(0, "Z")])])
        try:
            core.expval(tape, np.zeros((2, 0)), [z])
        except ALLOWED:
            pass
    """,
}


@pytest.mark.parametrize("name", list(FIXED_NATIVE_BUGS))
def test_fixed_native_bugs(name: str) -> None:
    proc = _run_isolated(FIXED_NATIVE_BUGS[name])
    assert proc.returncode == 0, proc.stderr[-3000:]


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--worker":
    sys.exit(worker(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
