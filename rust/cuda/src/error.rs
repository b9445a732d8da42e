//! Errors of the CUDA backend (the bindings map them onto Python exception classes).

use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum CudaError {
    /// No usable driver / GPU / NVRTC (the message says which).
    Unavailable(String),
    /// A feature the CUDA kernels do not have (yet).
    Unsupported(String),
    /// A bad argument.
    Value(String),
    /// Not enough device memory (refused before allocating).
    Memory(String),
    /// A CUDA driver or NVRTC call failed.
    Driver(String),
}

impl fmt::Display for CudaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CudaError::Unavailable(m)
            | CudaError::Unsupported(m)
            | CudaError::Value(m)
            | CudaError::Memory(m)
            | CudaError::Driver(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CudaError {}

pub type Result<T> = std::result::Result<T, CudaError>;
