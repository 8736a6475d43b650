//! `StoreError`: the store failures callers branch on (missing id, taken id, not saved yet).
//! They are returned inside `anyhow::Error`; their `Display` is the exact line hull prints.

use std::fmt;

/// The store's typed failures; reach them with `err.downcast_ref::<StoreError>()`.
/// Their `Display` is the exact line hull prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// `container "ID" does not exist`
    NotFound(String),
    /// `container "ID" already exists`
    AlreadyExists(String),
    /// The id is reserved but no state has been saved yet: a `create` is in progress (or
    /// died before saving). Map this to status `creating`.
    NotSaved(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound(id) => write!(f, "container {id:?} does not exist"),
            StoreError::AlreadyExists(id) => write!(f, "container {id:?} already exists"),
            StoreError::NotSaved(id) => {
                write!(f, "container {id:?} is being created (no state saved yet)")
            }
        }
    }
}

impl std::error::Error for StoreError {}
