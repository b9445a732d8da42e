// The host-emulation launcher: runs a kernel of kernels/*.cu on `block` OS threads that
// walk the grid block by block, with a pthread barrier as __syncthreads.
#include "shim.h"
#include "../kernels/common.cuh"
#include "../kernels/small.cu"
#include "../kernels/large.cu"
#include <cstring>
#include <pthread.h>
#include <thread>
#include <vector>

thread_local qx_dim3 threadIdx, blockIdx, blockDim, gridDim;
thread_local unsigned char* qx_host_smem;
static thread_local pthread_barrier_t* qx_barrier;

void qx_host_sync() { pthread_barrier_wait(qx_barrier); }

typedef void (*qx_small_fn)(const int*, const double*, const double*, const double*, const int*,
                            const int*, const double*, const double*, double*, double*, double*,
                            double*, int, int, int, int, int, int, int);

// Run f() as every thread of a grid_x x grid_y grid of `block`-thread blocks: `block` OS
// threads walk the grid block by block, sharing one `smem`-byte buffer per block.
template <typename F> static void qx_run_grid(unsigned grid_x, unsigned grid_y, unsigned block,
                                              size_t smem, F f) {
    std::vector<unsigned char> shared(smem + 16);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, nullptr, block);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < block; ++t) {
        threads.emplace_back([&, t]() {
            qx_barrier = &bar;
            qx_host_smem = shared.data();
            threadIdx = {t, 0, 0};
            blockDim = {block, 1, 1};
            gridDim = {grid_x, grid_y, 1};
            for (unsigned y = 0; y < grid_y; ++y)
                for (unsigned b = 0; b < grid_x; ++b) {
                    blockIdx = {b, y, 0};
                    f();
                    // the block is done before its shared memory is reused by the next one
                    pthread_barrier_wait(&bar);
                }
        });
    }
    for (auto& th : threads) th.join();
    pthread_barrier_destroy(&bar);
}

// Launch qx_small_c128 (precision 128) or qx_small_c64 (64) on grid x block threads with
// `smem` bytes of shared memory per block. Returns 0, or -1 on a bad argument.
extern "C" int qx_host_small(int precision, unsigned grid, unsigned block, size_t smem,
                             const int* ops, const double* consts, const double* mats,
                             const double* theta, const int* obs_start, const int* terms,
                             const double* coefs, const double* grad_out, double* out,
                             double* out_state, double* grad_theta, double* jac, int n_ops,
                             int n_qubits,
                             int P, int B, int M, int spb, int tps) {
    qx_small_fn f = precision == 128 ? qx_small_c128 : precision == 64 ? qx_small_c64 : nullptr;
    if (!f || block == 0) return -1;
    qx_run_grid(grid, 1, block, smem, [&]() {
        f(ops, consts, mats, theta, obs_start, terms, coefs, grad_out, out, out_state,
          grad_theta, jac, n_ops, n_qubits, P, B, M, spb, tps);
    });
    return 0;
}

typedef void (*qx_large_fn)(qx_large_args);
#define QX_LG(NAME) {#NAME, NAME}
static const struct {
    const char* name;
    qx_large_fn f;
} qx_large_table[] = {
    QX_LG(qx_lg_init_c128),   QX_LG(qx_lg_gate_c128),   QX_LG(qx_lg_seg_c128),
    QX_LG(qx_lg_bseg_c128),   QX_LG(qx_lg_braket_c128), QX_LG(qx_lg_expval_c128),
    QX_LG(qx_lg_lambda_c128), QX_LG(qx_lg_init_c64),    QX_LG(qx_lg_gate_c64),
    QX_LG(qx_lg_seg_c64),     QX_LG(qx_lg_bseg_c64),    QX_LG(qx_lg_braket_c64),
    QX_LG(qx_lg_expval_c64),  QX_LG(qx_lg_lambda_c64),  QX_LG(qx_lg_collect),
};

// Launch the large-register entry point `name` (kernels/large.cu) on a grid_x x grid_y
// grid of `block` threads with `smem` bytes of shared memory per block. Returns 0, or -1
// for an unknown name or an empty launch.
extern "C" int qx_host_large(const char* name, unsigned grid_x, unsigned grid_y, unsigned block,
                             size_t smem, const qx_large_args* args) {
    for (const auto& e : qx_large_table) {
        if (std::strcmp(e.name, name) != 0) continue;
        if (block == 0 || grid_x == 0 || grid_y == 0) return -1;
        const qx_large_args a = *args;
        qx_run_grid(grid_x, grid_y, block, smem, [&]() { e.f(a); });
        return 0;
    }
    return -1;
}
