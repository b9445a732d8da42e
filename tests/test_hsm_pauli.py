"""Pauli strings and sums for PauliHSM against dense Kronecker-product references."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest
import torch
from qoxide import _core
from qoxide.hsm.pauli import SquareExpansion, pauli_string_count, pauli_strings

PAULI = {
    "I": np.eye(2),
    "X": np.array([[0, 1], [1, 0]], complex),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.diag([1.0, -1.0]).astype(complex),
}


def kron_label(label: str) -> np.ndarray:
    """Dense matrix of "XIZ" with wire 0 the leftmost (most significant) factor."""
    m = np.eye(1, dtype=complex)
    for ch in label:
        m = np.kron(m, PAULI[ch])
    return m


def basis(strings: _core.PauliStrings) -> np.ndarray:
    return np.stack([kron_label(label) for label in strings.labels()])


@pytest.mark.parametrize("qubits", range(1, 7))
def test_enumeration_counts(qubits):
    for w in range(qubits + 1):
        s = pauli_strings(qubits, w)
        assert len(s) == sum(comb(qubits, j) * 3**j for j in range(w + 1))
        assert pauli_string_count(qubits, w) == len(s)
        labels = s.labels()
        assert len(set(labels)) == len(labels)
        assert labels[0] == "I" * qubits
        weights = [sum(ch != "I" for ch in label) for label in labels]
        assert max(weights) == w and weights == sorted(weights)
    all_strings = {"".join(p) for p in itertools.product("IXYZ", repeat=qubits)}
    assert set(pauli_strings(qubits, qubits).labels()) == all_strings


def test_weight_above_qubits_is_rejected():
    with pytest.raises(ValueError, match="weight 4 must be <= qubits_count 3"):
        pauli_strings(3, 4)
    with pytest.raises(ValueError, match="repeats"):
        _core.PauliStrings(2, [1, 1], [0, 0])
    with pytest.raises(ValueError, match="outside 2 qubits"):
        _core.PauliStrings(2, [4], [0])


@pytest.mark.parametrize(("qubits", "weight"), [(1, 1), (3, 2), (4, 4), (5, 2)])
def test_sums_match_dense_matrices(qubits, weight):
    rng = np.random.default_rng(qubits)
    s = pauli_strings(qubits, weight)
    ref = basis(s)
    d = 2**qubits
    coeffs = rng.normal(size=(3, len(s)))
    dense = s.dense(coeffs)
    np.testing.assert_allclose(dense, np.einsum("ms,sij->mij", coeffs, ref), atol=1e-12)
    # matrix-free application, one coefficient row per state
    states = rng.normal(size=(3, d)) + 1j * rng.normal(size=(3, d))
    np.testing.assert_allclose(
        s.apply(coeffs, states), np.einsum("mij,mj->mi", dense, states), atol=1e-12
    )
    # overlaps <u|P_s|v> for all strings, per sample and summed
    u = rng.normal(size=(3, d)) + 1j * rng.normal(size=(3, d))
    want = np.einsum("bi,sij,bj->bs", u.conj(), ref, states)
    np.testing.assert_allclose(s.overlaps(u, states), want, atol=1e-11)
    np.testing.assert_allclose(s.overlaps(u, states, sum_batch=True), want.sum(0), atol=1e-10)
    # project is the adjoint of dense for real coefficients
    g = rng.normal(size=(3, d, d)) + 1j * rng.normal(size=(3, d, d))
    np.testing.assert_allclose(
        s.project(g), np.einsum("mij,sij->ms", g.conj(), ref).real, atol=1e-10
    )


def test_square_expansion_is_sum_of_squares():
    rng = np.random.default_rng(1)
    s = pauli_strings(4, 2)
    sq = SquareExpansion.of(s)
    assert sq.products.labels()[0] == "IIII"
    a = torch.from_numpy(rng.normal(size=(3, len(s))))
    sigma = sq.coefficients(a).numpy()
    mats = np.einsum("ks,sij->kij", a.numpy(), basis(s))
    want = sum(m @ m for m in mats)
    np.testing.assert_allclose(np.einsum("u,uij->ij", sigma, basis(sq.products)), want, atol=1e-11)
