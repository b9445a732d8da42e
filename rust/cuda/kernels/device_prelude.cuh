// Device-side definitions of the macros kernels/*.cu use (NVRTC, no CUDA headers).
// host/shim.h defines the same macros for the host emulation used by the tests.
#define QX_DEVICE __device__ __forceinline__
#define QX_GLOBAL extern "C" __global__
#define QX_SYNC() __syncthreads()
#define QX_POPC(x) __popc(x)
#define QX_DYN_SHARED(name)                                                              \
    extern __shared__ __align__(16) unsigned char qx_smem_raw[];                         \
    unsigned char* name = qx_smem_raw
