//! A minimal synchronous D-Bus client in plain Rust, enough to drive systemd's manager for
//! the `--systemd-cgroup` driver: the wire format (values, signatures, messages, both byte
//! orders in, little-endian out), the EXTERNAL authentication, and one blocking connection
//! with timeouts on every read and write. No libdbus or libsystemd, no threads, no async
//! runtime (hull clones while single-threaded).
//!
//! Specification: <https://dbus.freedesktop.org/doc/dbus-specification.html>.

pub(crate) mod address;
pub(crate) mod auth;
pub(crate) mod conn;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod message;
pub(crate) mod signature;
pub(crate) mod value;

pub use address::Address;
pub use conn::{error_name, CallError, Connection, Peer};
pub use message::Message;
pub use value::Value;
