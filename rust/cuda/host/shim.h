// Host emulation of the CUDA execution model for kernels/*.cu (tests only).
// threadIdx/blockIdx/blockDim are per-thread variables, the dynamic shared memory is one
// buffer per block, and QX_SYNC() is a real barrier among the block's threads (each CUDA
// thread is an OS thread), so a missing barrier is a data race ThreadSanitizer reports.
#pragma once
#include <cmath>
#include <cstddef>

#define QX_HOST 1
struct qx_dim3 {
    unsigned x, y, z;
};
extern thread_local qx_dim3 threadIdx, blockIdx, blockDim, gridDim;
extern thread_local unsigned char* qx_host_smem;
void qx_host_sync();

using std::cos;
using std::sin;
#define QX_DEVICE static inline
#define QX_GLOBAL extern "C"
#define QX_SYNC() qx_host_sync()
#define QX_POPC(x) __builtin_popcount(x)
#define QX_DYN_SHARED(name) unsigned char* name = qx_host_smem
