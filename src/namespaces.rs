//! Namespaces: which to create (clone flags) and which to join by path (setns).
