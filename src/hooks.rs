//! OCI hooks: run one with the state JSON on stdin, its env and args, and a timeout.
