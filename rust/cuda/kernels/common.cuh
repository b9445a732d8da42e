// qoxide CUDA kernels: complex arithmetic and gate forms shared by all kernels.
// Compiled by NVRTC (after device_prelude.cuh) and, for the tests, by the host C++
// compiler (after host/shim.h). No CUDA headers: plain structs, builtin math.

template <typename R> struct qx_c {
    R re, im;
};

template <typename R> QX_DEVICE qx_c<R> qx_mk(R re, R im) {
    qx_c<R> z;
    z.re = re;
    z.im = im;
    return z;
}
template <typename R> QX_DEVICE qx_c<R> qx_add(qx_c<R> a, qx_c<R> b) {
    return qx_mk<R>(a.re + b.re, a.im + b.im);
}
template <typename R> QX_DEVICE qx_c<R> qx_mul(qx_c<R> a, qx_c<R> b) {
    return qx_mk<R>(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}
// conj(a) * b
template <typename R> QX_DEVICE qx_c<R> qx_cmul(qx_c<R> a, qx_c<R> b) {
    return qx_mk<R>(a.re * b.re + a.im * b.im, a.re * b.im - a.im * b.re);
}
template <typename R> QX_DEVICE qx_c<R> qx_conj(qx_c<R> a) { return qx_mk<R>(a.re, -a.im); }
template <typename R> QX_DEVICE qx_c<R> qx_scale(qx_c<R> a, R s) {
    return qx_mk<R>(a.re * s, a.im * s);
}

typedef qx_c<double> qx_cd;

// ---- the compact op list (built by rust/cuda/src/program.rs; keep in sync) ----
// One op = QX_OP_INTS ints:
//   [0] kind  (form on the target bits)   [1] gate (QX_G_*; QX_G_FIXED: form in `mats`)
//   [2] t0    [3] t1 (target bit positions; for MAT2 t0 is the matrix's high bit)
//   [4] control mask  [5] control value   [6] parity mask  [7] inverse (0/1)
//   [8..10] parameter refs: r >= 0 is column r of theta, r < 0 is consts[-r - 1]
//   [11] offset of the fixed form in `mats` (complex entries, re/im interleaved)
#define QX_OP_INTS 12
#define QX_K_ID 0
#define QX_K_MAT1 1
#define QX_K_DIAG1 2
#define QX_K_FLIP 3
#define QX_K_SWAP 4
#define QX_K_MAT2 5
#define QX_K_PARITY 6

#define QX_G_FIXED 0
#define QX_G_RX 1
#define QX_G_RY 2
#define QX_G_RZ 3
#define QX_G_PHASE 4
#define QX_G_ROT 5
#define QX_G_U2 6
#define QX_G_U3 7
#define QX_G_IXX 8
#define QX_G_IYY 9
#define QX_G_IZZ 10
#define QX_G_IXY 11
#define QX_G_GPHASE 12

// Number of parameters of a parametrised gate.
QX_DEVICE int qx_gate_nparams(int gate) {
    return gate == QX_G_ROT || gate == QX_G_U3 ? 3 : gate == QX_G_U2 ? 2 : gate == QX_G_FIXED ? 0 : 1;
}

// Number of complex coefficients of a form.
QX_DEVICE int qx_form_len(int kind) {
    return kind == QX_K_MAT1 ? 4 : kind == QX_K_MAT2 ? 16 : (kind == QX_K_DIAG1 || kind == QX_K_PARITY) ? 2 : 0;
}

QX_DEVICE qx_cd qx_eip(double p) { return qx_mk<double>(cos(p), sin(p)); }

// 2x2 row-major product a * b.
QX_DEVICE void qx_mul2(const qx_cd* a, const qx_cd* b, qx_cd* o) {
    o[0] = qx_add(qx_mul(a[0], b[0]), qx_mul(a[1], b[2]));
    o[1] = qx_add(qx_mul(a[0], b[1]), qx_mul(a[1], b[3]));
    o[2] = qx_add(qx_mul(a[2], b[0]), qx_mul(a[3], b[2]));
    o[3] = qx_add(qx_mul(a[2], b[1]), qx_mul(a[3], b[3]));
}

// RY(t) (dk < 0) or dRY/dt (dk >= 0) as a 2x2.
QX_DEVICE void qx_ry(double t, bool d, qx_cd* m) {
    double s = sin(t / 2), c = cos(t / 2);
    if (d) {
        m[0] = qx_mk(-s / 2, 0.0); m[1] = qx_mk(-c / 2, 0.0);
        m[2] = qx_mk(c / 2, 0.0);  m[3] = qx_mk(-s / 2, 0.0);
    } else {
        m[0] = qx_mk(c, 0.0); m[1] = qx_mk(-s, 0.0);
        m[2] = qx_mk(s, 0.0); m[3] = qx_mk(c, 0.0);
    }
}
// RZ(t) or dRZ/dt as a 2x2 diagonal.
QX_DEVICE void qx_rz2(double t, bool d, qx_cd* m) {
    qx_cd a = qx_eip(-t / 2), b = qx_eip(t / 2);
    if (d) {  // (-i/2) e^{-it/2}, (i/2) e^{it/2}
        a = qx_mk(a.im / 2, -a.re / 2);
        b = qx_mk(-b.im / 2, b.re / 2);
    }
    m[0] = a; m[1] = qx_mk(0.0, 0.0); m[2] = qx_mk(0.0, 0.0); m[3] = b;
}

// exp(-i t G / 2) for an involution G given by its 16 entries (or the t-derivative).
QX_DEVICE void qx_exp_inv(const qx_cd* g, double t, bool d, qx_cd* m) {
    double s = sin(t / 2), c = cos(t / 2);
    qx_cd a = d ? qx_mk(-s / 2, 0.0) : qx_mk(c, 0.0);
    qx_cd b = d ? qx_mk(0.0, -c / 2) : qx_mk(0.0, -s);
    for (int k = 0; k < 16; ++k) {
        m[k] = qx_mul(b, g[k]);
        if (k % 5 == 0) m[k] = qx_add(m[k], a);
    }
}

// The form of a parametrised gate (PennyLane's definitions, as rust/core/src/gates.rs)
// for angles a[0..3]; its derivative in a[dk] when dk >= 0. Writes qx_form_len(kind)
// entries of m.
QX_DEVICE void qx_param_form(int gate, const double* a, int dk, qx_cd* m) {
    const bool d = dk >= 0;
    const qx_cd z = qx_mk(0.0, 0.0);
    switch (gate) {
    case QX_G_RX: {
        double s = sin(a[0] / 2), c = cos(a[0] / 2);
        if (d) {
            m[0] = qx_mk(-s / 2, 0.0); m[1] = qx_mk(0.0, -c / 2);
            m[2] = qx_mk(0.0, -c / 2); m[3] = qx_mk(-s / 2, 0.0);
        } else {
            m[0] = qx_mk(c, 0.0); m[1] = qx_mk(0.0, -s);
            m[2] = qx_mk(0.0, -s); m[3] = qx_mk(c, 0.0);
        }
        break;
    }
    case QX_G_RY: qx_ry(a[0], d, m); break;
    case QX_G_RZ: {
        qx_cd t[4];
        qx_rz2(a[0], d, t);
        m[0] = t[0]; m[1] = t[3];
        break;
    }
    case QX_G_PHASE: {
        qx_cd e = qx_eip(a[0]);
        m[0] = d ? z : qx_mk(1.0, 0.0);
        m[1] = d ? qx_mk(-e.im, e.re) : e;
        break;
    }
    case QX_G_ROT: {  // RZ(c) RY(b) RZ(a)
        qx_cd za[4], yb[4], zc[4], t[4];
        qx_rz2(a[0], dk == 0, za);
        qx_ry(a[1], dk == 1, yb);
        qx_rz2(a[2], dk == 2, zc);
        qx_mul2(yb, za, t);
        qx_mul2(zc, t, m);
        break;
    }
    case QX_G_U2: {
        const double r = 0.70710678118654752440;
        qx_cd el = qx_eip(a[1]), ep = qx_eip(a[0]), epl = qx_eip(a[0] + a[1]);
        if (!d) {
            m[0] = qx_mk(r, 0.0); m[1] = qx_scale(el, -r);
            m[2] = qx_scale(ep, r); m[3] = qx_scale(epl, r);
        } else if (dk == 0) {
            m[0] = z; m[1] = z;
            m[2] = qx_mk(-ep.im * r, ep.re * r); m[3] = qx_mk(-epl.im * r, epl.re * r);
        } else {
            m[0] = z; m[1] = qx_mk(el.im * r, -el.re * r);
            m[2] = z; m[3] = qx_mk(-epl.im * r, epl.re * r);
        }
        break;
    }
    case QX_G_U3: {
        double s = sin(a[0] / 2), c = cos(a[0] / 2);
        qx_cd el = qx_eip(a[2]), ep = qx_eip(a[1]), epl = qx_eip(a[1] + a[2]);
        if (!d) {
            m[0] = qx_mk(c, 0.0); m[1] = qx_scale(el, -s);
            m[2] = qx_scale(ep, s); m[3] = qx_scale(epl, c);
        } else if (dk == 0) {
            m[0] = qx_mk(-s / 2, 0.0); m[1] = qx_scale(el, -c / 2);
            m[2] = qx_scale(ep, c / 2); m[3] = qx_scale(epl, -s / 2);
        } else if (dk == 1) {
            m[0] = z; m[1] = z;
            m[2] = qx_mk(-ep.im * s, ep.re * s); m[3] = qx_mk(-epl.im * c, epl.re * c);
        } else {
            m[0] = z; m[1] = qx_mk(el.im * s, -el.re * s);
            m[2] = z; m[3] = qx_mk(-epl.im * c, epl.re * c);
        }
        break;
    }
    case QX_G_IXX:
    case QX_G_IYY: {
        // X⊗X is the anti-diagonal of ones; Y⊗Y the anti-diagonal (-1, 1, 1, -1).
        qx_cd g[16];
        for (int k = 0; k < 16; ++k) g[k] = z;
        double y = gate == QX_G_IYY ? -1.0 : 1.0;
        g[3] = qx_mk(y, 0.0); g[6] = qx_mk(1.0, 0.0); g[9] = qx_mk(1.0, 0.0); g[12] = qx_mk(y, 0.0);
        qx_exp_inv(g, a[0], d, m);
        break;
    }
    case QX_G_IXY: {
        double s = sin(a[0] / 2), c = cos(a[0] / 2);
        for (int k = 0; k < 16; ++k) m[k] = z;
        qx_cd diag = d ? qx_mk(-s / 2, 0.0) : qx_mk(c, 0.0);
        qx_cd off = d ? qx_mk(0.0, c / 2) : qx_mk(0.0, s);
        qx_cd corner = d ? z : qx_mk(1.0, 0.0);
        m[0] = corner; m[15] = corner; m[5] = diag; m[10] = diag; m[6] = off; m[9] = off;
        break;
    }
    case QX_G_IZZ: {  // parity phases (even, odd) = (e^{-it/2}, e^{it/2})
        qx_cd e = qx_eip(-a[0] / 2), o = qx_eip(a[0] / 2);
        if (d) {
            e = qx_mk(e.im / 2, -e.re / 2);
            o = qx_mk(-o.im / 2, o.re / 2);
        }
        m[0] = e; m[1] = o;
        break;
    }
    case QX_G_GPHASE: {  // e^{-ip} I, derivative -i e^{-ip} I
        qx_cd e = qx_eip(-a[0]);
        if (d) e = qx_mk(e.im, -e.re);
        m[0] = e; m[1] = e;
        break;
    }
    default: break;
    }
}

// In-place adjoint of a form.
QX_DEVICE void qx_dagger(int kind, qx_cd* m) {
    if (kind == QX_K_MAT1) {
        qx_cd t = m[1];
        m[0] = qx_conj(m[0]); m[3] = qx_conj(m[3]);
        m[1] = qx_conj(m[2]); m[2] = qx_conj(t);
    } else if (kind == QX_K_MAT2) {
        for (int r = 0; r < 4; ++r) {
            m[5 * r] = qx_conj(m[5 * r]);
            for (int c = r + 1; c < 4; ++c) {
                qx_cd t = m[4 * r + c];
                m[4 * r + c] = qx_conj(m[4 * c + r]);
                m[4 * c + r] = qx_conj(t);
            }
        }
    } else if (kind == QX_K_DIAG1 || kind == QX_K_PARITY) {
        m[0] = qx_conj(m[0]); m[1] = qx_conj(m[1]);
    }
}

// The form of op `op` for angles from theta row `row` (derivative in parameter dk when
// dk >= 0), adjointed when `dagger` differs from the op's inverse flag.
QX_DEVICE void qx_op_form(const int* op, const double* consts, const double* mats,
                          const double* row, int dk, bool dagger, qx_cd* m) {
    const int kind = op[0], gate = op[1];
    if (gate == QX_G_FIXED) {
        const int n = qx_form_len(kind);
        for (int k = 0; k < n; ++k) m[k] = qx_mk(mats[2 * (op[11] + k)], mats[2 * (op[11] + k) + 1]);
    } else {
        double a[3];
        for (int k = 0; k < 3; ++k) {
            int r = op[8 + k];
            a[k] = r >= 0 ? row[r] : consts[-r - 1];
        }
        qx_param_form(gate, a, dk, m);
    }
    if (dagger != (op[7] != 0)) qx_dagger(kind, m);
}

// Insert a zero bit at position b of i.
QX_DEVICE unsigned qx_ins0(unsigned i, int b) {
    return ((i >> b) << (b + 1)) | (i & ((1u << b) - 1u));
}
