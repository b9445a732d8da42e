"""HSM models: predictions and energies against numpy eigh, gradients against gradcheck,
finite differences and autograd through torch.linalg.eigh, degenerate spectra, eigh_eps,
and a regression fit."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from qoxide import _core
from qoxide.hsm import GeneralFullEnergyHSM, GeneralHSM, PauliHSM, hermitian
from qoxide.hsm.ground import DenseGroundState
from torch import nn
from torch.func import functional_call


def error_hamiltonian(ops: np.ndarray, values: np.ndarray) -> np.ndarray:
    """½ Σ_k (O_k − v_k I)², summed literally."""
    eye = np.eye(ops.shape[-1])
    return 0.5 * sum((o - v * eye) @ (o - v * eye) for o, v in zip(ops, values, strict=True))


def reference(model, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(ŷ, E₀) from numpy's eigh of the dense H(x) the model describes."""
    with torch.no_grad():
        a, b = model.operators()
        xt = model.scaled_inputs(x).numpy()
    a, b = a.numpy(), b.numpy()
    h = np.stack([error_hamiltonian(a, row) for row in xt])
    e, vecs = np.linalg.eigh(h)
    if model.beta is None:
        psi = vecs[:, :, 0]
        y = np.einsum("bi,jik,bk->bj", psi.conj(), b, psi).real
    else:
        p = np.exp(-model.beta * (e - e[:, :1]))
        p /= p.sum(1, keepdims=True)
        rho = np.einsum("bin,bn,bkn->bik", vecs, p, vecs.conj())
        y = np.einsum("bki,jik->bj", rho, b).real
    return y, e[:, 0]


MODELS = {
    "general-rust": lambda: GeneralHSM(3, 2, 6, seed=1),
    "general-torch": lambda: GeneralHSM(3, 2, 6, seed=1, backend="torch"),
    "general-real": lambda: GeneralHSM(3, 2, 6, seed=1, complex=False),
    "general-weighted": lambda: GeneralHSM(3, 2, 5, seed=2, weighted_layer=True),
    "general-gibbs": lambda: GeneralHSM(3, 2, 6, seed=1, beta=1.5),
    "general-float32": lambda: GeneralHSM(3, 2, 6, seed=1, dtype=torch.float32),
    "fullenergy": lambda: GeneralFullEnergyHSM(3, 1, 5, seed=3),
    "pauli-dense": lambda: PauliHSM(3, 2, 3, 2, 1, seed=2),
    "pauli-lanczos": lambda: PauliHSM(3, 2, 6, 2, 2, seed=2, dense_max_dim=8),
    "pauli-gibbs": lambda: PauliHSM(3, 1, 3, 1, 2, seed=2, beta=2.0),
}


@pytest.mark.parametrize("name", MODELS)
def test_predictions_and_energies_match_numpy_eigh(name):
    torch.manual_seed(0)
    model = MODELS[name]()
    if name == "general-weighted":
        model.input_weights.data = torch.tensor([0.5, 1.5, -1.0], dtype=torch.float64)
    x = 1.5 * torch.randn(7, 3, dtype=torch.float64)
    with torch.no_grad():
        y, e0 = model.predict_with_energy(x)
        h = model.hamiltonian(x)
    y_ref, e_ref = reference(model, x)
    tol = 1e-5 if name.endswith("float32") else 1e-8
    np.testing.assert_allclose(y.double().numpy(), y_ref, atol=tol)
    np.testing.assert_allclose(e0.double().numpy(), e_ref, atol=tol)
    np.testing.assert_allclose(np.linalg.eigvalsh(h.numpy())[:, 0], e_ref, atol=tol)
    assert y.dtype == e0.dtype == next(model.parameters()).dtype


def test_fullenergy_energy_matches_numpy():
    model = GeneralFullEnergyHSM(2, 2, 4, seed=5)
    x = torch.randn(5, 2, dtype=torch.float64)
    y = torch.randn(5, 2, dtype=torch.float64)
    with torch.no_grad():
        a, b = model.operators()
        energy = model.energy(x, y).numpy()
    ops = torch.cat([a, b]).numpy()
    z = torch.cat([x, y], 1).numpy()
    h = np.stack([error_hamiltonian(ops, row) for row in z])
    np.testing.assert_allclose(energy, np.linalg.eigvalsh(h)[:, 0], atol=1e-10)


class _Both(nn.Module):
    """(ŷ, E₀) as one forward, for functional_call over the model's parameters."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.predict_with_energy(x)


def _functional(model):
    """f(x, *params) → (ŷ, E₀) and the current parameter values (leaves)."""
    wrapped = _Both(model)
    names = [f"model.{n}" for n, _ in model.named_parameters()]
    values = [p.detach().clone().requires_grad_(True) for p in model.parameters()]

    def f(x, *params):
        return functional_call(wrapped, dict(zip(names, params, strict=True)), (x,))

    return f, values


GRAD_MODELS = {
    "general-rust": lambda: GeneralHSM(2, 2, 4, seed=1, eigh_eps=0.0),
    "general-torch": lambda: GeneralHSM(2, 2, 4, seed=1, eigh_eps=0.0, backend="torch"),
    "general-real-weighted": lambda: GeneralHSM(
        2, 1, 4, seed=1, eigh_eps=0.0, complex=False, weighted_layer=True
    ),
    "general-gibbs": lambda: GeneralHSM(2, 2, 4, seed=1, beta=1.3),
    "pauli-dense": lambda: PauliHSM(2, 2, 2, 2, 1, seed=2, eigh_eps=0.0),
    "pauli-lanczos": lambda: PauliHSM(2, 2, 3, 1, 1, seed=2, eigh_eps=0.0, dense_max_dim=4),
}


@pytest.mark.parametrize("name", GRAD_MODELS)
def test_gradcheck_float64(name):
    torch.manual_seed(1)
    f, values = _functional(GRAD_MODELS[name]())
    x = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (x, *values), atol=1e-6, rtol=1e-5)


def test_fullenergy_gradcheck():
    model = GeneralFullEnergyHSM(2, 1, 3, seed=4, weighted_layer=True)
    names = [n for n, _ in model.named_parameters()]
    values = [p.detach().clone().requires_grad_(True) for p in model.parameters()]
    x = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, 1, dtype=torch.float64, requires_grad=True)

    class Energy(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, x, y):
            return self.m.energy(x, y)

    e = Energy()

    def f(x, y, *params):
        return functional_call(e, {f"m.{n}": p for n, p in zip(names, params, strict=True)}, (x, y))

    assert torch.autograd.gradcheck(f, (x, y, *values), atol=1e-6, rtol=1e-5)


def plain_torch(model, x):
    """The same model with autograd through torch.linalg.eigh (the usual implementation)."""
    a, b = model.operators()
    xt = model.scaled_inputs(x).to(a.dtype)
    h = 0.5 * (a @ a).sum(0) - torch.einsum("bk,kij->bij", xt, a)
    evals, vecs = torch.linalg.eigh(h)
    psi = vecs[:, :, 0]
    y = torch.einsum("bi,jik,bk->bj", psi.conj(), b.to(psi.dtype), psi).real
    return y, evals[:, 0] + 0.5 * (xt.real**2).sum(-1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: GeneralHSM(3, 2, 6, seed=7, eigh_eps=0.0, weighted_layer=True),
        lambda: PauliHSM(3, 2, 4, 2, 2, seed=7, eigh_eps=0.0, dense_max_dim=8),
    ],
)
def test_gradients_equal_autograd_through_eigh(make):
    """Non-degenerate spectra: the custom backward equals autograd through eigh."""
    model = make()
    x = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    g_out = torch.randn(6, 2, dtype=torch.float64)
    g_e = torch.randn(6, dtype=torch.float64)

    def grads(fn):
        model.zero_grad()
        x.grad = None
        y, e = fn(x)
        ((y * g_out).sum() + (e * g_e).sum()).backward()
        return [x.grad.clone()] + [p.grad.clone() for p in model.parameters()]

    ours = grads(model.predict_with_energy)
    theirs = grads(lambda x: plain_torch(model, x))
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, atol=1e-7, rtol=1e-6)


def degenerate_model(rotated: bool) -> tuple[GeneralHSM, torch.Tensor]:
    """K = 1, d = 4, A = U diag(0, 1, -1, 2) U† (U = I, or random unitary): at x = 0 the
    levels of ½A² are (0, ½, ½, 2), a degenerate excited pair over a unique ground state."""
    a = torch.diag(torch.tensor([0.0, 1.0, -1.0, 2.0], dtype=torch.complex128))
    if rotated:
        gen = torch.Generator().manual_seed(3)
        q, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.complex128, generator=gen))
        a = q @ a @ q.mH
    model = GeneralHSM(1, 1, 4, seed=3, eigh_eps=0.0)
    iu = torch.triu_indices(4, 4, 1)
    with torch.no_grad():
        model.input_diags.copy_(a.diagonal().real[None])
        model.input_trius.copy_(a[iu[0], iu[1]][None])
    torch.testing.assert_close(model.operators()[0][0], a)
    return model, torch.zeros(2, 1, dtype=torch.float64)


@pytest.mark.parametrize("rotated", [False, True])
def test_degenerate_excited_levels_give_finite_correct_gradients(rotated):
    model, x = degenerate_model(rotated)
    levels = torch.linalg.eigvalsh(model.hamiltonian(x).detach())[0]
    torch.testing.assert_close(levels, torch.tensor([0.0, 0.5, 0.5, 2.0], dtype=torch.float64))
    params = list(model.parameters())

    def loss(fn):
        y, e = fn(x)
        return y.sum() + 0.3 * e.sum()

    model.zero_grad()
    loss(model.predict_with_energy).backward()
    ours = [p.grad.clone() for p in params]
    assert all(torch.isfinite(g).all() for g in ours)
    if not rotated:
        # exactly tied eigenvalues: autograd through eigh divides 0 by a zero gap
        model.zero_grad()
        loss(lambda x: plain_torch(model, x)).backward()
        assert any(not torch.isfinite(p.grad).all() for p in params)
    # central finite differences along every real parameter direction
    with torch.no_grad():
        for p, g in zip(params, ours, strict=True):
            flat, gflat = p.view(-1), g.view(-1)
            for i in range(flat.numel()):
                for unit in (1.0, 1j) if p.is_complex() else (1.0,):
                    old = flat[i].clone()
                    flat[i] = old + 1e-6 * unit
                    plus = loss(model.predict_with_energy)
                    flat[i] = old - 1e-6 * unit
                    minus = loss(model.predict_with_energy)
                    flat[i] = old
                    fd = float(plus - minus) / 2e-6
                    want = gflat[i].real if unit == 1.0 else gflat[i].imag
                    assert abs(fd - float(want)) < 1e-6, (p.shape, i, unit, fd, float(want))


@pytest.mark.parametrize("dense_max_dim", [2, 4])  # Lanczos + CG, and dense
def test_pauli_degenerate_excited_levels(dense_max_dim):
    """A = Z⊗I + 2 I⊗Z at x = 1: ½(A − 1)² has levels (0, 2, 2, 8)."""
    model = PauliHSM(
        1, 1, 2, 1, 2, seed=0, eigh_eps=0.0, dense_max_dim=dense_max_dim, lanczos_tol=1e-14
    )
    labels = model.input_labels
    with torch.no_grad():
        model.input_pauli_coeffs.zero_()
        model.input_pauli_coeffs[0, labels.index("ZI")] = 1.0
        model.input_pauli_coeffs[0, labels.index("IZ")] = 2.0
    x = torch.ones(1, 1, dtype=torch.float64)
    levels = torch.linalg.eigvalsh(model.hamiltonian(x).detach())[0]
    torch.testing.assert_close(levels, torch.tensor([0.0, 2.0, 2.0, 8.0], dtype=torch.float64))

    def loss():
        y, e = model.predict_with_energy(x)
        return y.sum() + 0.5 * e.sum()

    model.zero_grad()
    loss().backward()
    for p in model.parameters():
        assert torch.isfinite(p.grad).all()
        with torch.no_grad():
            flat, g = p.view(-1), p.grad.view(-1)
            for i in range(0, flat.numel(), 3):
                old = flat[i].clone()
                flat[i] = old + 1e-6
                plus = loss()
                flat[i] = old - 1e-6
                minus = loss()
                flat[i] = old
                assert abs(float(plus - minus) / 2e-6 - float(g[i])) < 1e-6


def test_lanczos_warm_starts_and_convergence_warning():
    model = PauliHSM(3, 1, 5, 2, 1, seed=4, dense_max_dim=8)
    x = torch.randn(6, 3, dtype=torch.float64)
    with torch.no_grad():
        cold = model.predict_with_energy(x)
        assert len(model.warm_starts.states) == 6
        model.input_pauli_coeffs.add_(1e-3)
        warm = model.predict_with_energy(x)
        model.warm_starts.states.clear()
        fresh = model.predict_with_energy(x)
    for a, b in zip(warm, fresh, strict=True):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=0)
    assert (cold[1] - warm[1]).abs().max() > 1e-6  # the parameters did change
    # fewer Lanczos steps from the previous ground states (same energies)
    sq = model.square_expansion()
    a = model.input_pauli_coeffs.detach()
    args = (sq.products, model.input_strings, model.output_strings)
    coeffs = ((0.5 * sq.coefficients(a)).numpy(), (-x @ a).numpy())
    e_cold, psi, _, n_cold, _ = _core.hsm_pauli_ground(*args, *coeffs)
    e_warm, _, _, n_warm, _ = _core.hsm_pauli_ground(*args, *coeffs, init=psi)
    np.testing.assert_allclose(e_warm, e_cold, atol=1e-12)
    assert n_warm.sum() < n_cold.sum()
    starved = PauliHSM(3, 1, 5, 2, 1, seed=4, dense_max_dim=8, max_matvecs=3)
    with pytest.warns(RuntimeWarning, match="did not converge within max_matvecs=3"):
        starved(x)


@pytest.mark.parametrize("backend", ["rust", "torch"])
def test_eigh_eps_shifts_every_gap(backend):
    """With eigh_eps = ε the backward uses gaps E_n − E₀ + ε: compare with the explicit
    eigenbasis formula, and a degenerate ground state stays finite."""
    torch.manual_seed(2)
    d, eps = 5, 0.25
    m = torch.randn(2, d, d, dtype=torch.complex128)
    h = ((m + m.mH) / 2).requires_grad_(True)
    b = torch.randn(1, d, d, dtype=torch.complex128)
    b = (b + b.mH) / 2
    y, _ = DenseGroundState.apply(h, b, eps, backend)
    (g,) = torch.autograd.grad(y.sum(), h)
    evals, vecs = torch.linalg.eigh(h.detach())
    psi = vecs[:, :, 0]
    c = torch.einsum("bin,ij,bj->bn", vecs.conj(), b[0], psi)
    w = -c / (evals - evals[:, :1] + eps).to(c.dtype)
    w[:, 0] = 0
    chi = torch.einsum("bin,bn->bi", vecs, w)
    want = psi[:, :, None] * chi.conj()[:, None, :] + chi[:, :, None] * psi.conj()[:, None, :]
    torch.testing.assert_close(g, want, atol=1e-10, rtol=1e-9)
    # exactly degenerate ground state: finite, bounded by ‖B‖/ε
    hd = torch.diag(torch.tensor([0.0, 0.0, 1.0, 2.0, 3.0], dtype=torch.complex128))[None]
    hd = hd.clone().requires_grad_(True)
    y, _ = DenseGroundState.apply(hd, b, 1e-8, backend)
    (g,) = torch.autograd.grad(y.sum(), hd)
    assert torch.isfinite(g).all()
    assert g.abs().max() < 2 * torch.linalg.matrix_norm(b[0], 2) / 1e-8


def test_hermitian_parametrisation():
    diags = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    trius = torch.tensor([[1 + 1j, 2j, 3.0]], dtype=torch.complex128)
    m = hermitian(diags, trius)[0]
    want = torch.tensor([[1, 1 + 1j, 2j], [1 - 1j, 2, 3], [-2j, 3, 3]], dtype=torch.complex128)
    torch.testing.assert_close(m, want)


def test_bad_arguments():
    with pytest.raises(ValueError, match="must be between 0 and qubits_count"):
        PauliHSM(2, 1, 2, 3, 1)
    with pytest.raises(ValueError, match=r"inputs must be \[batch, 3\]"):
        GeneralHSM(3, 1, 4)(torch.zeros(2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="beta"):
        GeneralHSM(3, 1, 4, beta=0.0)
    with pytest.raises(ValueError, match="hilbert_space_dims"):
        GeneralHSM(3, 1, 1)


def test_regression_reaches_r2_above_0_9_quickly():
    """A GeneralHSM learns a smooth synthetic target (R² > 0.9 on held-out points).

    torch runs single-threaded: the steps are tiny, and torch's OpenMP barriers cost
    milliseconds per op on a loaded two-core machine.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _regression()
    finally:
        torch.set_num_threads(threads)


def _regression():
    started = time.perf_counter()
    gen = torch.Generator().manual_seed(0)
    x = 2 * torch.rand(600, 2, generator=gen, dtype=torch.float64) - 1
    y = (torch.sin(2 * x[:, :1]) + x[:, 1:] ** 2 - 0.3).to(torch.float64)
    y = (y - y.mean()) / y.std()
    train, test = slice(0, 500), slice(500, None)
    model = GeneralHSM(2, 1, 6, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(40):
        perm = torch.randperm(500, generator=gen)
        for i in range(0, 500, 50):
            idx = perm[i : i + 50]
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x[train][idx]), y[train][idx])
            loss.backward()
            opt.step()
    with torch.no_grad():
        pred = model(x[test])
    r2 = 1 - ((pred - y[test]) ** 2).sum() / ((y[test] - y[test].mean()) ** 2).sum()
    assert r2 > 0.9, float(r2)
    assert time.perf_counter() - started < 20
