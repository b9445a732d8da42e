"""Autograd functions for ground-state (and Gibbs-state) expectations of batched Hamiltonians.

Each takes Hamiltonians ``h`` [B, d, d] (or, for Pauli HSMs, their Pauli coefficients) and
output operators, and returns ``(y [B, J], e0 [B])`` with y_bj = ⟨B_j⟩ and e0 the lowest
eigenvalue. Backward passes never differentiate through ``torch.linalg.eigh``: they use

* the ground-state formula dŷ = 2 Re⟨χ|dH|ψ₀⟩ with (H − E₀ + ε)χ = −P⊥ B_g ψ₀, χ ⊥ ψ₀
  (B_g = Σ_j ∂L/∂y_j B_j), which involves only the gaps E_n − E₀ (n ≥ 1), so degenerate
  excited levels are harmless, and Hellmann–Feynman dE₀ = ⟨ψ₀|dH|ψ₀⟩;
* for Gibbs states the Daleckii–Krein divided differences of p(E) ∝ exp(−βE), computed
  stably (finite for any degeneracy).

For Hermitian H, ∂L/∂H (torch's convention for complex inputs) is the Hermitian
G = ψ₀χ† + χψ₀† + (∂L/∂E₀) ψ₀ψ₀†.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from .. import _core


def _np(t: torch.Tensor, dtype: torch.dtype) -> np.ndarray:
    return t.detach().to("cpu", dtype).contiguous().numpy()


def _outer(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """u v† per sample: [B, d] × [B, d] → [B, d, d]."""
    return u.unsqueeze(-1) * v.conj().unsqueeze(-2)


def _expect(psi: torch.Tensor, b_ops: torch.Tensor) -> torch.Tensor:
    """Re ⟨ψ_b|B_j|ψ_b⟩: [B, J]."""
    return torch.einsum("bi,jik,bk->bj", psi.conj(), b_ops.to(psi.dtype), psi).real


def _grad_b(gy: torch.Tensor, rho_or_psi: torch.Tensor) -> torch.Tensor:
    """∂L/∂B_j = Σ_b gy_bj ρ_b, with ρ_b given as states [B, d] or matrices [B, d, d]."""
    gy = gy.to(rho_or_psi.dtype)
    if rho_or_psi.ndim == 2:
        return torch.einsum("bj,bi,bk->jik", gy, rho_or_psi, rho_or_psi.conj())
    return torch.einsum("bj,bik->jik", gy, rho_or_psi)


def _cast_like(g: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A gradient in an input's dtype (the real part for real inputs)."""
    return (g if dtype.is_complex else g.real).to(dtype)


class DenseGroundState(torch.autograd.Function):
    """(y, e0) of the ground states of dense Hermitian ``h`` [B, d, d].

    ``backend="rust"`` (CPU) finds only ψ₀ (Householder tridiagonal form, bisection,
    inverse iteration) and keeps the factorisation for the backward solve;
    ``backend="torch"`` uses ``torch.linalg.eigh`` (any device) and solves in its eigenbasis.
    """

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, b_ops: torch.Tensor, eps: float, backend: str):
        if backend == "rust":
            e0, psi, factors = _core.hsm_dense_ground(_np(h, torch.complex128))
            psi = torch.from_numpy(psi).to(h.device)
            e0 = torch.from_numpy(e0).to(h.device)
            ctx.factors, ctx.spectrum = factors, None
        else:
            evals, vecs = torch.linalg.eigh(h.detach())
            e0, psi = evals[:, 0], vecs[:, :, 0]
            ctx.factors, ctx.spectrum = None, (evals, vecs)
        ctx.eps, ctx.h_dtype = eps, h.dtype
        ctx.save_for_backward(psi, b_ops)
        real = h.real.dtype if h.is_complex() else h.dtype
        return _expect(psi, b_ops.detach()).to(real), e0.to(real)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, gy: torch.Tensor | None, ge: torch.Tensor | None):
        psi, b_ops = ctx.saved_tensors
        # G = ψχ† + χψ† + g_E ψψ† = ψφ† + φψ† with φ = χ + ½ g_E ψ: one batched matmul
        phi = torch.zeros_like(psi)
        grad_b = None
        if gy is not None and b_ops.shape[0] > 0:
            gy = gy.to(psi.real.dtype)
            r = torch.einsum("bj,jik,bk->bi", gy.to(psi.dtype), b_ops.to(psi.dtype), psi)
            phi = phi - solve_deflated(ctx, psi, r)
            if ctx.needs_input_grad[1]:
                grad_b = _cast_like(_grad_b(gy, psi), b_ops.dtype)
        if ge is not None:
            phi = phi + 0.5 * ge.to(psi.dtype)[:, None] * psi
        grad_h = None
        if ctx.needs_input_grad[0]:
            left = torch.stack([psi, phi], dim=-1)
            g = left @ torch.stack([phi, psi], dim=-1).mH
            grad_h = _cast_like(g, ctx.h_dtype)
        return grad_h, grad_b, None, None


def solve_deflated(ctx: Any, psi: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """χ ⊥ ψ₀ with (H − E₀ + ε)χ = P⊥ r for the factorised or diagonalised H in ``ctx``."""
    if ctx.factors is not None:
        chi = ctx.factors.solve(_np(r, torch.complex128), float(ctx.eps))
        return torch.from_numpy(chi).to(psi.device, psi.dtype)
    evals, vecs = ctx.spectrum
    c = torch.einsum("bin,bi->bn", vecs.conj(), r)
    gaps = evals - evals[:, :1] + ctx.eps
    w = torch.where(torch.arange(gaps.shape[1], device=gaps.device) == 0, 0.0, 1.0 / gaps)
    return torch.einsum("bin,bn->bi", vecs, c * w.to(c.dtype))


def _phi(z: torch.Tensor) -> torch.Tensor:
    """expm1(z)/z, equal to 1 at z = 0."""
    small = z.abs() < 1e-8
    safe = torch.where(small, torch.ones_like(z), z)
    return torch.where(small, 1.0 + 0.5 * z, torch.expm1(safe) / safe)


def gibbs_kernel(evals: torch.Tensor, p: torch.Tensor, beta: float) -> torch.Tensor:
    """K_mn = (p_m − p_n)/(E_m − E_n), and −β p_n on (near-)degenerate pairs: [B, d, d].

    Written as −β max(p_m, p_n) φ(−β|E_m − E_n|) with φ(z) = expm1(z)/z, which never
    divides by a small gap nor overflows.
    """
    gap = (evals.unsqueeze(-1) - evals.unsqueeze(-2)).abs()
    pmax = torch.maximum(p.unsqueeze(-1), p.unsqueeze(-2))
    return -beta * pmax * _phi(-beta * gap)


class GibbsState(torch.autograd.Function):
    """(y, e0) for ρ = Σ_n p_n |ψ_n⟩⟨ψ_n|, p_n ∝ exp(−β(E_n − E₀)), y_j = Tr(ρ B_j)."""

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, b_ops: torch.Tensor, beta: float):
        evals, vecs = torch.linalg.eigh(h.detach())
        p = torch.softmax(-beta * (evals - evals[:, :1]), dim=-1)
        rho = torch.einsum("bin,bn,bkn->bik", vecs, p.to(vecs.dtype), vecs.conj())
        y = torch.einsum("bki,jik->bj", rho, b_ops.detach().to(rho.dtype)).real
        ctx.beta, ctx.h_dtype = beta, h.dtype
        ctx.save_for_backward(evals, vecs, p, rho, y, b_ops)
        real = h.real.dtype if h.is_complex() else h.dtype
        return y.to(real), evals[:, 0].to(real)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, gy: torch.Tensor | None, ge: torch.Tensor | None):
        evals, vecs, p, rho, y, b_ops = ctx.saved_tensors
        batch, d = evals.shape
        g = torch.zeros(batch, d, d, dtype=vecs.dtype, device=vecs.device)
        grad_b = None
        if gy is not None and b_ops.shape[0] > 0:
            gy = gy.to(evals.dtype)
            b_g = torch.einsum("bj,jik->bik", gy.to(vecs.dtype), b_ops.to(vecs.dtype))
            bt = vecs.mH @ b_g @ vecs
            y_g = (gy * y).sum(-1)
            eye = torch.eye(d, dtype=vecs.dtype, device=vecs.device)
            gamma = gibbs_kernel(evals, p, ctx.beta).to(vecs.dtype) * (
                bt - y_g.to(vecs.dtype)[:, None, None] * eye
            )
            g = g + vecs @ gamma @ vecs.mH
            if ctx.needs_input_grad[1]:
                grad_b = _cast_like(_grad_b(gy, rho), b_ops.dtype)
        if ge is not None:
            psi = vecs[:, :, 0]
            g = g + ge.to(vecs.dtype)[:, None, None] * _outer(psi, psi)
        grad_h = _cast_like(g, ctx.h_dtype) if ctx.needs_input_grad[0] else None
        return grad_h, grad_b, None


class PauliDense(torch.autograd.Function):
    """Dense matrices Σ_s coeffs[m, s] P_s [M, d, d] from real coefficients [M, N]."""

    @staticmethod
    def forward(ctx: Any, coeffs: torch.Tensor, strings: _core.PauliStrings):
        ctx.strings, ctx.dtype = strings, coeffs.dtype
        mats = strings.dense(_np(coeffs, torch.float64))
        return torch.from_numpy(mats).to(coeffs.device)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g: torch.Tensor):
        grad = ctx.strings.project(_np(g, torch.complex128))
        return torch.from_numpy(grad).to(g.device, ctx.dtype), None


def _warn_unconverged(what: str, relative: np.ndarray, ops: Any) -> None:
    """Warn when an iterative solve stopped at ``max_matvecs`` far from its tolerance."""
    worst = float(np.max(relative, initial=0.0))
    if worst > max(1e-6, 1e3 * ops.tol):
        warnings.warn(
            f"{what} did not converge within max_matvecs={ops.max_matvecs} (worst relative "
            f"residual {worst:.1e}); results are approximate — raise max_matvecs or max_krylov",
            RuntimeWarning,
            stacklevel=3,
        )


class PauliGroundState(torch.autograd.Function):
    """(y, e0) for matrix-free H_b = Σ_u σ_u P_u + Σ_s c_bs P_s (Lanczos in the Rust core).

    ``ops`` carries the string sets (shared, local, output) and solver options; y_bj =
    Σ_v out_coeffs[j, v] ⟨ψ_b|P_v|ψ_b⟩. The backward runs one deflated conjugate-gradient
    solve per sample and the overlaps ⟨φ_b|P|ψ_b⟩ for all strings at once.
    """

    @staticmethod
    def forward(
        ctx: Any,
        sigma: torch.Tensor,
        c: torch.Tensor,
        out_coeffs: torch.Tensor,
        ops: Any,
        init: np.ndarray | None,
    ):
        e0, psi, ev, _, residuals = _core.hsm_pauli_ground(
            ops.shared,
            ops.local,
            ops.output,
            _np(sigma, torch.float64),
            _np(c, torch.float64),
            init=init,
            tol=ops.tol,
            max_krylov=ops.max_krylov,
            max_matvecs=ops.max_matvecs,
        )
        _warn_unconverged("Lanczos ground states", residuals / np.maximum(1.0, np.abs(e0)), ops)
        ev_t = torch.from_numpy(ev)
        ops.states = psi
        ctx.ops, ctx.psi, ctx.e0 = ops, psi, e0
        ctx.dtypes = (sigma.dtype, c.dtype, out_coeffs.dtype)
        ctx.save_for_backward(sigma, c, out_coeffs, ev_t)
        y = ev_t @ out_coeffs.detach().to(torch.float64).T
        return y.to(out_coeffs.dtype), torch.from_numpy(e0).to(sigma.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, gy: torch.Tensor | None, ge: torch.Tensor | None):
        sigma, c, out_coeffs, ev = ctx.saved_tensors
        batch = c.shape[0]
        gy = torch.zeros(batch, out_coeffs.shape[0]) if gy is None else gy
        gy = gy.to(torch.float64)
        ge = torch.zeros(batch, dtype=torch.float64) if ge is None else ge.to(torch.float64)
        gamma = gy @ out_coeffs.detach().to(torch.float64)
        ops = ctx.ops
        gs, gc, _, residuals = _core.hsm_pauli_backward(
            ops.shared,
            ops.local,
            ops.output,
            _np(sigma, torch.float64),
            _np(c, torch.float64),
            ctx.psi,
            ctx.e0,
            gamma.numpy(),
            ge.numpy(),
            float(ops.eps),
            tol=ops.tol,
            max_matvecs=ops.max_matvecs,
        )
        _warn_unconverged("conjugate-gradient solves of the backward", residuals, ops)
        grad_out = gy.T @ ev
        ds, dc, do = ctx.dtypes
        return (
            torch.from_numpy(gs).to(ds),
            torch.from_numpy(gc).to(dc),
            grad_out.to(do),
            None,
            None,
        )
