// The batched small-register kernel (the QML case: 1..12 qubits, a large batch, per-sample
// angles theta[B, P]). One launch runs the whole circuit: every block holds `spb` samples'
// states in shared memory, `tps` threads per sample (a power of two); the expectation
// values (Pauli sums) are reduced in the same launch. With `grad_out` set, the same launch
// then runs the adjoint VJP: λ = Σ_m g_m O_m |φ⟩ in shared memory next to φ, one backward
// sweep, grad_theta[b, col] += 2 Re ⟨λ|∂U|φ⟩. With `jac` set instead, the adjoint
// Jacobian [B, M, P]: one sweep per observable in the same launch.
//
// Shared memory (dynamic): φ [spb][2^n] complex, λ [spb][2^n] (VJP / Jacobian only),
// red [blockDim] R.
// Every thread reaches every barrier: samples past the batch end (the last block) compute
// on zeros and write nothing.

template <typename R> struct qx_small_args {
    const int* ops;        // [n_ops][QX_OP_INTS]
    const double* consts;  // constant angles
    const double* mats;    // fixed forms, complex interleaved
    const double* theta;   // [B, P]
    const int* obs_start;  // [M + 1]: terms of observable m are obs_start[m]..obs_start[m+1]
    const int* terms;      // [T][3]: x mask, z mask, number of Y factors mod 4
    const double* coefs;   // [T]
    const double* grad_out;  // [B, M] or null (no VJP)
    double* out;           // [B, M] expectation values or null
    double* out_state;     // [B, 2^n] complex interleaved or null
    double* grad_theta;    // [B, P] (VJP only; overwritten)
    double* jac;           // [B, M, P] Jacobian, or null (used when grad_out is null)
    int n_ops, n_qubits, P, B, M, spb, tps;
};

// Apply a form to one sample's vector v (2^n amplitudes) with `tps` threads (lane lt).
template <typename R>
QX_DEVICE void qx_apply(const int* op, const qx_cd* m, qx_c<R>* v, unsigned dim, int lt, int tps) {
    const int kind = op[0], t0 = op[2], t1 = op[3];
    const unsigned cm = (unsigned)op[4], cv = (unsigned)op[5], pm = (unsigned)op[6];
    qx_c<R> f[16];
    for (int k = 0; k < qx_form_len(kind); ++k) f[k] = qx_mk<R>((R)m[k].re, (R)m[k].im);
    switch (kind) {
    case QX_K_MAT1:
    case QX_K_FLIP:
        for (unsigned p = lt; p < dim / 2; p += tps) {
            unsigned i0 = qx_ins0(p, t0), i1 = i0 | (1u << t0);
            if ((i0 & cm) != cv) continue;
            qx_c<R> a = v[i0], b = v[i1];
            if (kind == QX_K_FLIP) {
                v[i0] = b; v[i1] = a;
            } else {
                v[i0] = qx_add(qx_mul(f[0], a), qx_mul(f[1], b));
                v[i1] = qx_add(qx_mul(f[2], a), qx_mul(f[3], b));
            }
        }
        break;
    case QX_K_DIAG1:
        for (unsigned i = lt; i < dim; i += tps) {
            if ((i & cm) != cv) continue;
            v[i] = qx_mul(f[(i >> t0) & 1u], v[i]);
        }
        break;
    case QX_K_PARITY:
        for (unsigned i = lt; i < dim; i += tps) v[i] = qx_mul(f[QX_POPC(i & pm) & 1], v[i]);
        break;
    case QX_K_SWAP:
    case QX_K_MAT2: {
        const int lo = t0 < t1 ? t0 : t1, hi = t0 < t1 ? t1 : t0;
        for (unsigned q = lt; q < dim / 4; q += tps) {
            unsigned i = qx_ins0(qx_ins0(q, lo), hi);
            if ((i & cm) != cv) continue;
            unsigned ix[4] = {i, i | (1u << t1), i | (1u << t0), i | (1u << t0) | (1u << t1)};
            if (kind == QX_K_SWAP) {
                qx_c<R> t = v[ix[1]];
                v[ix[1]] = v[ix[2]];
                v[ix[2]] = t;
            } else {
                qx_c<R> a[4] = {v[ix[0]], v[ix[1]], v[ix[2]], v[ix[3]]};
                for (int r = 0; r < 4; ++r) {
                    qx_c<R> s = qx_mul(f[4 * r], a[0]);
                    for (int c = 1; c < 4; ++c) s = qx_add(s, qx_mul(f[4 * r + c], a[c]));
                    v[ix[r]] = s;
                }
            }
        }
        break;
    }
    default: break;
    }
}

// This lane's part of ⟨l|F|v⟩ for a form F (zero off the control subspace).
template <typename R>
QX_DEVICE qx_c<R> qx_braket(const int* op, const qx_cd* m, const qx_c<R>* l, const qx_c<R>* v,
                            unsigned dim, int lt, int tps) {
    const int kind = op[0], t0 = op[2], t1 = op[3];
    const unsigned cm = (unsigned)op[4], cv = (unsigned)op[5], pm = (unsigned)op[6];
    qx_c<R> f[16];
    for (int k = 0; k < qx_form_len(kind); ++k) f[k] = qx_mk<R>((R)m[k].re, (R)m[k].im);
    qx_c<R> acc = qx_mk<R>(0, 0);
    switch (kind) {
    case QX_K_MAT1:
        for (unsigned p = lt; p < dim / 2; p += tps) {
            unsigned i0 = qx_ins0(p, t0), i1 = i0 | (1u << t0);
            if ((i0 & cm) != cv) continue;
            qx_c<R> a = v[i0], b = v[i1];
            acc = qx_add(acc, qx_cmul(l[i0], qx_add(qx_mul(f[0], a), qx_mul(f[1], b))));
            acc = qx_add(acc, qx_cmul(l[i1], qx_add(qx_mul(f[2], a), qx_mul(f[3], b))));
        }
        break;
    case QX_K_DIAG1:
        for (unsigned i = lt; i < dim; i += tps) {
            if ((i & cm) != cv) continue;
            acc = qx_add(acc, qx_cmul(l[i], qx_mul(f[(i >> t0) & 1u], v[i])));
        }
        break;
    case QX_K_PARITY:
        for (unsigned i = lt; i < dim; i += tps)
            acc = qx_add(acc, qx_cmul(l[i], qx_mul(f[QX_POPC(i & pm) & 1], v[i])));
        break;
    case QX_K_MAT2: {
        const int lo = t0 < t1 ? t0 : t1, hi = t0 < t1 ? t1 : t0;
        for (unsigned q = lt; q < dim / 4; q += tps) {
            unsigned i = qx_ins0(qx_ins0(q, lo), hi);
            unsigned ix[4] = {i, i | (1u << t1), i | (1u << t0), i | (1u << t0) | (1u << t1)};
            qx_c<R> a[4] = {v[ix[0]], v[ix[1]], v[ix[2]], v[ix[3]]};
            for (int r = 0; r < 4; ++r) {
                qx_c<R> s = qx_mul(f[4 * r], a[0]);
                for (int c = 1; c < 4; ++c) s = qx_add(s, qx_mul(f[4 * r + c], a[c]));
                acc = qx_add(acc, qx_cmul(l[ix[r]], s));
            }
        }
        break;
    }
    default: break;
    }
    return acc;
}

// Sum of x over the lanes of each sample; every lane gets its sample's sum.
template <typename R> QX_DEVICE R qx_reduce(R x, R* red, int tid, int lt, int tps) {
    red[tid] = x;
    QX_SYNC();
    for (int off = tps / 2; off > 0; off >>= 1) {
        if (lt < off) red[tid] += red[tid + off];
        QX_SYNC();
    }
    R s = red[tid - lt];
    QX_SYNC();
    return s;
}

// i^k * z
template <typename R> QX_DEVICE qx_c<R> qx_ipow(int k, qx_c<R> z) {
    switch (k & 3) {
    case 1: return qx_mk<R>(-z.im, z.re);
    case 2: return qx_mk<R>(-z.re, -z.im);
    case 3: return qx_mk<R>(z.im, -z.re);
    default: return z;
    }
}

// φ ← U_{n-1} ... U_0 |0⟩ (this lane's share; ends with a barrier).
template <typename R>
QX_DEVICE void qx_forward(const qx_small_args<R>& A, const double* row, qx_c<R>* phi,
                          unsigned dim, int lt, int tps) {
    for (unsigned i = lt; i < dim; i += tps) phi[i] = qx_mk<R>(i == 0 ? 1 : 0, 0);
    QX_SYNC();
    qx_cd m[16];
    for (int k = 0; k < A.n_ops; ++k) {
        const int* op = A.ops + k * QX_OP_INTS;
        if (op[0] == QX_K_ID) continue;
        qx_op_form(op, A.consts, A.mats, row, -1, false, m);
        qx_apply<R>(op, m, phi, dim, lt, tps);
        QX_SYNC();
    }
}

// One adjoint sweep from the final φ: λ = Σ_m w_m O_m φ with w = g (g != null) or the
// one-hot e_{only}; gt[col] = Σ 2 Re ⟨λ|∂U|φ⟩ over the ops using theta column col
// (written by lane 0 when `live`). φ is left un-computed (back to |0⟩).
template <typename R>
QX_DEVICE void qx_backward(const qx_small_args<R>& A, const double* row, const double* g,
                           int only, double* gt, bool live, qx_c<R>* phi, qx_c<R>* lam,
                           R* red, unsigned dim, int tid, int lt, int tps) {
    // λ[k] = Σ_m w_m Σ_t c_t i^ny (-1)^{|(k^x) & z|} φ[k^x]
    for (unsigned k = lt; k < dim; k += tps) {
        qx_c<R> acc = qx_mk<R>(0, 0);
        for (int mo = 0; mo < A.M; ++mo) {
            const R gm = !live ? (R)0 : g ? (R)g[mo] : (R)(mo == only ? 1 : 0);
            for (int t = A.obs_start[mo]; t < A.obs_start[mo + 1]; ++t) {
                const unsigned x = (unsigned)A.terms[3 * t], z = (unsigned)A.terms[3 * t + 1];
                const unsigned j = k ^ x;
                qx_c<R> w = qx_scale(qx_ipow(A.terms[3 * t + 2], phi[j]), gm * (R)A.coefs[t]);
                if (QX_POPC(j & z) & 1) w = qx_scale(w, (R)-1);
                acc = qx_add(acc, w);
            }
        }
        lam[k] = acc;
    }
    if (live && lt == 0)
        for (int p = 0; p < A.P; ++p) gt[p] = 0;
    QX_SYNC();
    qx_cd m[16];
    for (int k = A.n_ops - 1; k >= 0; --k) {
        const int* op = A.ops + k * QX_OP_INTS;
        if (op[0] == QX_K_ID) continue;
        // φ ← U_k† φ
        qx_op_form(op, A.consts, A.mats, row, -1, true, m);
        qx_apply<R>(op, m, phi, dim, lt, tps);
        QX_SYNC();
        const int np = qx_gate_nparams(op[1]);
        for (int j = 0; j < np; ++j) {
            const int col = op[8 + j];
            if (col < 0) continue;
            qx_op_form(op, A.consts, A.mats, row, j, false, m);
            R part = qx_braket<R>(op, m, lam, phi, dim, lt, tps).re;
            R tot = qx_reduce<R>(part, red, tid, lt, tps);
            if (live && lt == 0) gt[col] += 2.0 * (double)tot;
        }
        // λ ← U_k† λ
        qx_op_form(op, A.consts, A.mats, row, -1, true, m);
        qx_apply<R>(op, m, lam, dim, lt, tps);
        QX_SYNC();
    }
}

template <typename R> QX_DEVICE void qx_small(const qx_small_args<R>& A) {
    QX_DYN_SHARED(smem);
    const unsigned dim = 1u << A.n_qubits;
    const int tid = threadIdx.x, tps = A.tps;
    const int s = tid / tps, lt = tid % tps;
    const long long b = (long long)blockIdx.x * A.spb + s;
    const bool live = b < A.B;
    const bool adjoint = A.grad_out != 0 || A.jac != 0;
    qx_c<R>* phi = reinterpret_cast<qx_c<R>*>(smem) + (size_t)s * dim;
    qx_c<R>* lam = reinterpret_cast<qx_c<R>*>(smem) + (size_t)(A.spb + s) * dim;
    R* red = reinterpret_cast<R*>(reinterpret_cast<qx_c<R>*>(smem) +
                                  (size_t)A.spb * dim * (adjoint ? 2 : 1));
    // Rows past the batch end read row 0 (any valid angles; nothing is written).
    const long long bb = live ? b : 0;
    const double* row = A.theta + bb * A.P;

    qx_forward<R>(A, row, phi, dim, lt, tps);
    if (A.out_state && live) {
        double* o = A.out_state + 2 * b * (long long)dim;
        for (unsigned i = lt; i < dim; i += tps) {
            o[2 * i] = (double)phi[i].re;
            o[2 * i + 1] = (double)phi[i].im;
        }
    }
    // ⟨P⟩ = Σ_j Re( conj(φ[j^x]) i^ny (-1)^{|j & z|} φ[j] ) per Pauli word.
    if (A.out) {
        for (int mo = 0; mo < A.M; ++mo) {
            R acc = 0;
            for (int t = A.obs_start[mo]; t < A.obs_start[mo + 1]; ++t) {
                const unsigned x = (unsigned)A.terms[3 * t], z = (unsigned)A.terms[3 * t + 1];
                const int ny = A.terms[3 * t + 2];
                R part = 0;
                for (unsigned j = lt; j < dim; j += tps) {
                    qx_c<R> w = qx_ipow(ny, phi[j]);
                    R r = qx_cmul(phi[j ^ x], w).re;
                    part += (QX_POPC(j & z) & 1) ? -r : r;
                }
                acc += (R)A.coefs[t] * part;
            }
            R tot = qx_reduce<R>(acc, red, tid, lt, tps);
            if (live && lt == 0) A.out[b * A.M + mo] = (double)tot;
        }
    }
    if (A.grad_out) {
        qx_backward<R>(A, row, A.grad_out + bb * A.M, -1, A.grad_theta + bb * A.P, live, phi,
                       lam, red, dim, tid, lt, tps);
    } else if (A.jac) {
        // Jacobian [B, M, P]: one sweep per observable, the forward re-run in between
        for (int mo = 0; mo < A.M; ++mo) {
            if (mo > 0) qx_forward<R>(A, row, phi, dim, lt, tps);
            qx_backward<R>(A, row, 0, mo, A.jac + (bb * A.M + mo) * A.P, live, phi, lam, red,
                           dim, tid, lt, tps);
        }
    }
}

#define QX_SMALL_ENTRY(NAME, R)                                                          \
    QX_GLOBAL void NAME(const int* ops, const double* consts, const double* mats,         \
                        const double* theta, const int* obs_start, const int* terms,      \
                        const double* coefs, const double* grad_out, double* out,         \
                        double* out_state, double* grad_theta, double* jac, int n_ops,    \
                        int n_qubits,                                                     \
                        int P, int B, int M, int spb, int tps) {                          \
        qx_small_args<R> a;                                                               \
        a.ops = ops; a.consts = consts; a.mats = mats; a.theta = theta;                   \
        a.obs_start = obs_start; a.terms = terms; a.coefs = coefs; a.grad_out = grad_out; \
        a.out = out; a.out_state = out_state; a.grad_theta = grad_theta; a.jac = jac;     \
        a.n_ops = n_ops; a.n_qubits = n_qubits; a.P = P; a.B = B; a.M = M;                \
        a.spb = spb; a.tps = tps;                                                         \
        qx_small<R>(a);                                                                   \
    }

QX_SMALL_ENTRY(qx_small_c128, double)
QX_SMALL_ENTRY(qx_small_c64, float)
