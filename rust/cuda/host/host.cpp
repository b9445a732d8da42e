// The host-emulation launcher: runs a kernel of kernels/*.cu on `block` OS threads that
// walk the grid block by block, with a pthread barrier as __syncthreads.
#include "shim.h"
#include "../kernels/common.cuh"
#include "../kernels/small.cu"
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
            gridDim = {grid, 1, 1};
            for (unsigned b = 0; b < grid; ++b) {
                blockIdx = {b, 0, 0};
                f(ops, consts, mats, theta, obs_start, terms, coefs, grad_out, out, out_state,
                  grad_theta, jac, n_ops, n_qubits, P, B, M, spb, tps);
                // the block is done before its shared memory is reused by the next one
                pthread_barrier_wait(&bar);
            }
        });
    }
    for (auto& th : threads) th.join();
    pthread_barrier_destroy(&bar);
    return 0;
}
