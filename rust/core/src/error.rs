//! The one error type of the core. Bindings map each variant to a Python exception.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum QoxideError {
    /// A bad value: non-unitary matrix, unknown name, out-of-range number...
    Value(String),
    /// A wire out of range or repeated.
    Wire(String),
    /// An array of the wrong shape or size.
    Shape(String),
    /// The request would not fit in memory; raised before allocating.
    Memory(String),
    /// The caller asked the call to stop (Ctrl-C); outputs were not written.
    Cancelled,
    /// A broken invariant inside the core (a bug): never expected.
    Internal(String),
}

pub type Result<T> = std::result::Result<T, QoxideError>;

impl fmt::Display for QoxideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QoxideError::Value(m)
            | QoxideError::Wire(m)
            | QoxideError::Shape(m)
            | QoxideError::Memory(m)
            | QoxideError::Internal(m) => f.write_str(m),
            QoxideError::Cancelled => f.write_str("cancelled"),
        }
    }
}

impl std::error::Error for QoxideError {}

/// `Err(QoxideError::Value(format!(...)))`
#[macro_export]
macro_rules! value_err {
    ($($arg:tt)*) => { Err($crate::error::QoxideError::Value(format!($($arg)*))) };
}

/// `Err(QoxideError::Wire(format!(...)))`
#[macro_export]
macro_rules! wire_err {
    ($($arg:tt)*) => { Err($crate::error::QoxideError::Wire(format!($($arg)*))) };
}

/// `Err(QoxideError::Shape(format!(...)))`
#[macro_export]
macro_rules! shape_err {
    ($($arg:tt)*) => { Err($crate::error::QoxideError::Shape(format!($($arg)*))) };
}
