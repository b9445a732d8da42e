//! The one error type of the core. Bindings map each variant to a Python exception.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum QoxideError {
    /// A bad value: wire out of range, repeated wires, wrong shape, non-unitary matrix...
    Value(String),
    /// The request would not fit in memory; raised before allocating.
    Memory(String),
    /// A broken invariant inside the core (a bug): never expected.
    Internal(String),
}

pub type Result<T> = std::result::Result<T, QoxideError>;

impl fmt::Display for QoxideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QoxideError::Value(m) | QoxideError::Memory(m) | QoxideError::Internal(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for QoxideError {}

/// `Err(QoxideError::Value(format!(...)))`
#[macro_export]
macro_rules! value_err {
    ($($arg:tt)*) => { Err($crate::error::QoxideError::Value(format!($($arg)*))) };
}
