// The large-register kernels: ONE statevector of up to 32 qubits in global memory,
// driven op by op (or segment by segment) by the plan in rust/cuda/src/large.rs. Every
// entry point takes the same argument struct by value; each reads the fields it needs.
//
// - qx_lg_init_*    φ = |0⟩
// - qx_lg_gate_*    op `first` (U, or U† with `dagger`) on φ over the whole vector
// - qx_lg_seg_*     ops [first, last) on tiles of 2^seg_bits contiguous amplitudes in
//                   shared memory: one read and one write of φ for the whole run. Targets
//                   sit below seg_bits (diagonal ops anywhere); controls and diagonal
//                   factors on higher bits are constant on a tile (read from its base).
// - qx_lg_bseg_*    the adjoint sweep over a segment: φ and λ tiles, ops in reverse, each
//                   parameter's block partial of 2 Re ⟨λ|∂U|φ⟩ into `partial`
// - qx_lg_braket_*  the same partial for op `first`, derivative `dk`, over the whole vector
// - qx_lg_expval_*  block partials of ⟨φ|O_m|φ⟩, observable m = blockIdx.y
// - qx_lg_lambda_*  λ = Σ_m w_m O_m φ (w = weights, or the one-hot e_only)
// - qx_lg_collect   out[o] = Σ over rows r mapped to o (dcols[r], or r itself) of
//                   Σ_b partial[r][b], in a fixed order (deterministic; no atomics)
//
// Reductions: every launch that writes `partial` runs on exactly `stride` blocks, block b
// owning column b of its rows; the block sizes are powers of two. Sums are in double.
// Indices are 64-bit; bit masks 32-bit (at most 32 qubits).

typedef unsigned long long qx_u64;

// Keep in sync with LargeArgs in rust/cuda/src/large.rs (repr(C), same order and types).
struct qx_large_args {
    const int* ops;
    const double* consts;
    const double* mats;
    const double* theta;    // [P]
    const int* obs_start;   // [M + 1]
    const int* terms;       // [T][3]
    const double* coefs;    // [T]
    const double* weights;  // [M] λ weights, or null: one-hot `only`
    const int* dcols;       // [n_rows] output of each partial row, or null: row r -> r
    void* phi;              // [dim] complex R
    void* lam;              // [dim] complex R
    double* partial;        // [rows][stride]
    double* out;            // collect's output [n_out]
    qx_u64 dim;             // 2^n
    int seg_bits, first, last, dagger, dk, row0, n_rows, n_out, stride, only, M, pad;
};
static_assert(sizeof(qx_large_args) == 160, "qx_large_args must match LargeArgs");

QX_DEVICE qx_u64 qx_ins0l(qx_u64 i, int b) {
    return ((i >> b) << (b + 1)) | (i & ((1ull << b) - 1ull));
}

// Work items of an op over the whole vector: pairs, single amplitudes or quadruples.
QX_DEVICE qx_u64 qx_lg_items(int kind, qx_u64 dim) {
    return kind == QX_K_DIAG1 || kind == QX_K_PARITY ? dim
           : kind == QX_K_SWAP || kind == QX_K_MAT2  ? dim / 4
                                                      : dim / 2;
}

// Work item w of an op with form f: applied to v in place (lam null), or its part of
// ⟨lam|F|v⟩ returned (v untouched).
template <typename R>
QX_DEVICE qx_c<R> qx_lg_item(const int* op, const qx_c<R>* f, qx_c<R>* v, const qx_c<R>* lam,
                             qx_u64 w) {
    const int kind = op[0], t0 = op[2], t1 = op[3];
    const qx_u64 cm = (unsigned)op[4], cv = (unsigned)op[5];
    const unsigned pm = (unsigned)op[6];
    qx_c<R> acc = qx_mk<R>(0, 0);
    if (kind == QX_K_MAT1 || kind == QX_K_FLIP) {
        const qx_u64 i0 = qx_ins0l(w, t0), i1 = i0 | (1ull << t0);
        if ((i0 & cm) != cv) return acc;
        const qx_c<R> a = v[i0], b = v[i1];
        qx_c<R> n0 = b, n1 = a;
        if (kind == QX_K_MAT1) {
            n0 = qx_add(qx_mul(f[0], a), qx_mul(f[1], b));
            n1 = qx_add(qx_mul(f[2], a), qx_mul(f[3], b));
        }
        if (lam) return qx_add(qx_cmul(lam[i0], n0), qx_cmul(lam[i1], n1));
        v[i0] = n0;
        v[i1] = n1;
    } else if (kind == QX_K_DIAG1 || kind == QX_K_PARITY) {
        if ((w & cm) != cv) return acc;
        const unsigned s = kind == QX_K_DIAG1 ? (unsigned)(w >> t0) & 1u
                                              : (unsigned)QX_POPC((unsigned)w & pm) & 1u;
        const qx_c<R> n = qx_mul(f[s], v[w]);
        if (lam) return qx_cmul(lam[w], n);
        v[w] = n;
    } else if (kind == QX_K_SWAP || kind == QX_K_MAT2) {
        const int lo = t0 < t1 ? t0 : t1, hi = t0 < t1 ? t1 : t0;
        const qx_u64 i = qx_ins0l(qx_ins0l(w, lo), hi);
        if ((i & cm) != cv) return acc;
        const qx_u64 ix[4] = {i, i | (1ull << t1), i | (1ull << t0), i | (1ull << t0) | (1ull << t1)};
        const qx_c<R> a[4] = {v[ix[0]], v[ix[1]], v[ix[2]], v[ix[3]]};
        for (int r = 0; r < 4; ++r) {
            qx_c<R> s = a[r == 1 ? 2 : r == 2 ? 1 : r];
            if (kind == QX_K_MAT2) {
                s = qx_mul(f[4 * r], a[0]);
                for (int c = 1; c < 4; ++c) s = qx_add(s, qx_mul(f[4 * r + c], a[c]));
            }
            if (lam)
                acc = qx_add(acc, qx_cmul(lam[ix[r]], s));
            else
                v[ix[r]] = s;
        }
    }
    return acc;
}

template <typename R> QX_DEVICE void qx_lg_form(const qx_large_args& A, const int* op, int dk,
                                                bool dagger, qx_c<R>* f) {
    qx_cd m[16];
    qx_op_form(op, A.consts, A.mats, A.theta, dk, dagger, m);
    for (int k = 0; k < qx_form_len(op[0]); ++k) f[k] = qx_mk<R>((R)m[k].re, (R)m[k].im);
}

QX_DEVICE qx_u64 qx_lg_tid() { return (qx_u64)blockIdx.x * blockDim.x + threadIdx.x; }
QX_DEVICE qx_u64 qx_lg_nthreads() { return (qx_u64)gridDim.x * blockDim.x; }

template <typename R> QX_DEVICE void qx_lg_init(const qx_large_args& A) {
    qx_c<R>* v = static_cast<qx_c<R>*>(A.phi);
    for (qx_u64 i = qx_lg_tid(); i < A.dim; i += qx_lg_nthreads()) v[i] = qx_mk<R>(i == 0 ? 1 : 0, 0);
}

template <typename R> QX_DEVICE void qx_lg_gate(const qx_large_args& A) {
    const int* op = A.ops + A.first * QX_OP_INTS;
    qx_c<R> f[16];
    qx_lg_form<R>(A, op, -1, A.dagger != 0, f);
    qx_c<R>* v = static_cast<qx_c<R>*>(A.phi);
    const qx_u64 n = qx_lg_items(op[0], A.dim);
    for (qx_u64 w = qx_lg_tid(); w < n; w += qx_lg_nthreads())
        qx_lg_item<R>(op, f, v, (const qx_c<R>*)0, w);
}

// Sum of x over the block, written to partial[row][blockIdx.x] by thread 0 (`add`: added
// to what is there).
QX_DEVICE void qx_lg_put(const qx_large_args& A, double x, double* red, int row, bool add) {
    const int tid = threadIdx.x;
    const double tot = qx_reduce<double>(x, red, tid, tid, blockDim.x);
    if (tid == 0) {
        double* p = A.partial + (qx_u64)row * A.stride + blockIdx.x;
        *p = add ? *p + tot : tot;
    }
}

template <typename R> QX_DEVICE void qx_lg_braket(const qx_large_args& A) {
    QX_DYN_SHARED(smem);
    const int* op = A.ops + A.first * QX_OP_INTS;
    qx_c<R> f[16];
    qx_lg_form<R>(A, op, A.dk, false, f);
    qx_c<R>* phi = static_cast<qx_c<R>*>(A.phi);
    const qx_c<R>* lam = static_cast<const qx_c<R>*>(A.lam);
    const qx_u64 n = qx_lg_items(op[0], A.dim);
    double part = 0;
    for (qx_u64 w = qx_lg_tid(); w < n; w += qx_lg_nthreads())
        part += (double)qx_lg_item<R>(op, f, phi, lam, w).re;
    qx_lg_put(A, 2.0 * part, reinterpret_cast<double*>(smem), A.row0, false);
}

// Op o as the tile whose indices have high bits `base` sees it: false when a control on a
// high bit is off there (the op is the identity on the tile); else op o in `lop` with
// tile-local masks and its form in m, with factors picked by high bits resolved (a DIAG1
// on a high target becomes a constant, a parity over high bits swaps its two phases).
QX_DEVICE bool qx_lg_local(const qx_large_args& A, int o, qx_u64 base, int dk, bool dagger,
                           int* lop, qx_cd* m) {
    const int* op = A.ops + o * QX_OP_INTS;
    if (op[0] == QX_K_ID) return false;
    const unsigned low = (1u << A.seg_bits) - 1u, hi = (unsigned)base;
    const unsigned cm = (unsigned)op[4], cv = (unsigned)op[5], pm = (unsigned)op[6];
    if ((hi & cm & ~low) != (cv & ~low)) return false;
    for (int j = 0; j < QX_OP_INTS; ++j) lop[j] = op[j];
    lop[4] = (int)(cm & low);
    lop[5] = (int)(cv & low);
    qx_op_form(op, A.consts, A.mats, A.theta, dk, dagger, m);
    if (op[0] == QX_K_DIAG1 && op[2] >= A.seg_bits) {
        m[0] = m[(hi >> op[2]) & 1u];
        m[1] = m[0];
        lop[2] = 0;
    } else if (op[0] == QX_K_PARITY) {
        if (QX_POPC(hi & pm & ~low) & 1) {
            const qx_cd t = m[0];
            m[0] = m[1];
            m[1] = t;
        }
        lop[6] = (int)(pm & low);
    }
    return true;
}

template <typename R> QX_DEVICE void qx_lg_seg(const qx_large_args& A) {
    QX_DYN_SHARED(smem);
    qx_c<R>* tile = reinterpret_cast<qx_c<R>*>(smem);
    const unsigned tdim = 1u << A.seg_bits;
    const int tid = threadIdx.x, nt = blockDim.x;
    qx_c<R>* v = static_cast<qx_c<R>*>(A.phi);
    int lop[QX_OP_INTS];
    qx_cd m[16];
    for (qx_u64 t = blockIdx.x; t < (A.dim >> A.seg_bits); t += gridDim.x) {
        const qx_u64 base = t << A.seg_bits;
        for (unsigned i = tid; i < tdim; i += nt) tile[i] = v[base + i];
        QX_SYNC();
        for (int o = A.first; o < A.last; ++o) {
            if (!qx_lg_local(A, o, base, -1, A.dagger != 0, lop, m)) continue;
            qx_apply<R>(lop, m, tile, tdim, tid, nt);
            QX_SYNC();
        }
        for (unsigned i = tid; i < tdim; i += nt) v[base + i] = tile[i];
        // the tile is read out before the next one is loaded over it
        QX_SYNC();
    }
}

// The backward sweep over ops [first, last) (from last - 1 down): φ ← U†φ, each
// parameter's partial (rows row0.. in that order), λ ← U†λ, as qx_backward in small.cu.
template <typename R> QX_DEVICE void qx_lg_bseg(const qx_large_args& A) {
    QX_DYN_SHARED(smem);
    const unsigned tdim = 1u << A.seg_bits;
    qx_c<R>* ph = reinterpret_cast<qx_c<R>*>(smem);
    qx_c<R>* la = ph + tdim;
    double* red = reinterpret_cast<double*>(la + tdim);
    const int tid = threadIdx.x, nt = blockDim.x;
    qx_c<R>* phi = static_cast<qx_c<R>*>(A.phi);
    qx_c<R>* lam = static_cast<qx_c<R>*>(A.lam);
    const qx_u64 n_tiles = A.dim >> A.seg_bits;
    // a block without tiles still owns its column of the rows
    if (blockIdx.x >= n_tiles && tid == 0)
        for (int r = 0; r < A.n_rows; ++r) A.partial[(qx_u64)(A.row0 + r) * A.stride + blockIdx.x] = 0;
    int lop[QX_OP_INTS];
    qx_cd m[16];
    for (qx_u64 t = blockIdx.x; t < n_tiles; t += gridDim.x) {
        const qx_u64 base = t << A.seg_bits;
        const bool add = t != blockIdx.x;
        for (unsigned i = tid; i < tdim; i += nt) {
            ph[i] = phi[base + i];
            la[i] = lam[base + i];
        }
        QX_SYNC();
        int row = A.row0;
        for (int o = A.last - 1; o >= A.first; --o) {
            const int* op = A.ops + o * QX_OP_INTS;
            // uniform over the block: every thread takes the same branches to the barriers
            const bool on = qx_lg_local(A, o, base, -1, true, lop, m);
            if (on) {
                qx_apply<R>(lop, m, ph, tdim, tid, nt);
                QX_SYNC();
            }
            for (int j = 0; j < qx_gate_nparams(op[1]); ++j) {
                if (op[8 + j] < 0) continue;
                double part = 0;
                if (on) {
                    qx_lg_local(A, o, base, j, false, lop, m);
                    part = 2.0 * (double)qx_braket<R>(lop, m, la, ph, tdim, tid, nt).re;
                }
                qx_lg_put(A, part, red, row++, add);
            }
            if (on) {
                qx_lg_local(A, o, base, -1, true, lop, m);
                qx_apply<R>(lop, m, la, tdim, tid, nt);
                QX_SYNC();
            }
        }
        for (unsigned i = tid; i < tdim; i += nt) {
            phi[base + i] = ph[i];
            lam[base + i] = la[i];
        }
        QX_SYNC();
    }
}

// ⟨P⟩ = Σ_j Re( conj(φ[j^x]) i^ny (-1)^{|j & z|} φ[j] ) per Pauli word, as in small.cu.
template <typename R> QX_DEVICE void qx_lg_expval(const qx_large_args& A) {
    QX_DYN_SHARED(smem);
    const qx_c<R>* phi = static_cast<const qx_c<R>*>(A.phi);
    const int mo = blockIdx.y;
    double acc = 0;
    for (int t = A.obs_start[mo]; t < A.obs_start[mo + 1]; ++t) {
        const unsigned x = (unsigned)A.terms[3 * t], z = (unsigned)A.terms[3 * t + 1];
        const int ny = A.terms[3 * t + 2];
        double part = 0;
        for (qx_u64 j = qx_lg_tid(); j < A.dim; j += qx_lg_nthreads()) {
            const double r = (double)qx_cmul(phi[j ^ x], qx_ipow(ny, phi[j])).re;
            part += (QX_POPC((unsigned)j & z) & 1) ? -r : r;
        }
        acc += A.coefs[t] * part;
    }
    qx_lg_put(A, acc, reinterpret_cast<double*>(smem), mo, false);
}

// λ[k] = Σ_m w_m Σ_t c_t i^ny (-1)^{|(k^x) & z|} φ[k^x]
template <typename R> QX_DEVICE void qx_lg_lambda(const qx_large_args& A) {
    const qx_c<R>* phi = static_cast<const qx_c<R>*>(A.phi);
    qx_c<R>* lam = static_cast<qx_c<R>*>(A.lam);
    for (qx_u64 k = qx_lg_tid(); k < A.dim; k += qx_lg_nthreads()) {
        qx_c<R> acc = qx_mk<R>(0, 0);
        for (int mo = 0; mo < A.M; ++mo) {
            const R gm = A.weights ? (R)A.weights[mo] : (R)(mo == A.only ? 1 : 0);
            for (int t = A.obs_start[mo]; t < A.obs_start[mo + 1]; ++t) {
                const unsigned x = (unsigned)A.terms[3 * t], z = (unsigned)A.terms[3 * t + 1];
                const qx_u64 j = k ^ x;
                qx_c<R> w = qx_scale(qx_ipow(A.terms[3 * t + 2], phi[j]), gm * (R)A.coefs[t]);
                if (QX_POPC((unsigned)j & z) & 1) w = qx_scale(w, (R)-1);
                acc = qx_add(acc, w);
            }
        }
        lam[k] = acc;
    }
}

QX_GLOBAL void qx_lg_collect(qx_large_args A) {
    QX_DYN_SHARED(smem);
    double* red = reinterpret_cast<double*>(smem);
    const int o = blockIdx.x, tid = threadIdx.x, nt = blockDim.x;
    double acc = 0;
    for (int r = 0; r < A.n_rows; ++r) {
        if ((A.dcols ? A.dcols[r] : r) != o) continue;
        double part = 0;
        for (int b = tid; b < A.stride; b += nt) part += A.partial[(qx_u64)r * A.stride + b];
        acc += qx_reduce<double>(part, red, tid, tid, nt);
    }
    if (tid == 0) A.out[o] = acc;
}

#define QX_LARGE_ENTRIES(SUF, R)                                                         \
    QX_GLOBAL void qx_lg_init_##SUF(qx_large_args a) { qx_lg_init<R>(a); }               \
    QX_GLOBAL void qx_lg_gate_##SUF(qx_large_args a) { qx_lg_gate<R>(a); }               \
    QX_GLOBAL void qx_lg_seg_##SUF(qx_large_args a) { qx_lg_seg<R>(a); }                 \
    QX_GLOBAL void qx_lg_bseg_##SUF(qx_large_args a) { qx_lg_bseg<R>(a); }               \
    QX_GLOBAL void qx_lg_braket_##SUF(qx_large_args a) { qx_lg_braket<R>(a); }           \
    QX_GLOBAL void qx_lg_expval_##SUF(qx_large_args a) { qx_lg_expval<R>(a); }           \
    QX_GLOBAL void qx_lg_lambda_##SUF(qx_large_args a) { qx_lg_lambda<R>(a); }

QX_LARGE_ENTRIES(c128, double)
QX_LARGE_ENTRIES(c64, float)
