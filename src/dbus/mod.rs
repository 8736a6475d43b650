//! A minimal synchronous D-Bus client in plain Rust, enough to drive systemd's manager for
//! the `--systemd-cgroup` driver: the wire format (values, signatures, messages, both byte
//! orders in, little-endian out), the EXTERNAL authentication, and one blocking connection
//! with timeouts on every read and write. No libdbus or libsystemd, no threads, no async
//! runtime (hull clones while single-threaded).
//!
//! Specification: <https://dbus.freedesktop.org/doc/dbus-specification.html>.

pub mod address;
pub mod auth;
pub mod conn;
pub mod decode;
pub mod encode;
pub mod message;
pub mod signature;
pub mod value;

pub use address::Address;
pub use conn::{error_name, CallError, Connection, Peer};
pub use message::Message;
pub use value::Value;
