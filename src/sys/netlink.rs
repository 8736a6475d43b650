//! rtnetlink requests, made by hand: a message is a few fixed-size headers, and the one
//! socket and its ack need no crate (and no async runtime). Used to bring a network
//! namespace's loopback up from inside it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_HDRLEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const NLMSG_ERROR: u16 = 2;

/// Index of `lo`: the kernel creates it first in every network namespace.
pub const LOOPBACK_INDEX: i32 = 1;

/// `RTM_NEWLINK` setting IFF_UP on the link with index `ifindex` of the caller's network
/// namespace, and wait for the kernel's ack.
pub fn set_link_up(ifindex: i32) -> io::Result<()> {
    let sock = route_socket()?;
    let msg = newlink_up(ifindex, 1);
    // SAFETY: send reads msg.len() bytes from a live buffer on an fd we own.
    let n = unsafe { libc::send(sock.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = [0u8; 512];
    // SAFETY: recv writes at most buf.len() bytes into a live buffer on an fd we own.
    let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    ack_errno(&buf[..n as usize])
}

fn route_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned by the OwnedFd below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by socket(2) and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// nlmsghdr + ifinfomsg asking for IFF_UP (only that flag changes), with an ack.
fn newlink_up(ifindex: i32, seq: u32) -> Vec<u8> {
    let len = (NLMSG_HDRLEN + IFINFOMSG_LEN) as u32;
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    let mut m = Vec::with_capacity(len as usize);
    m.extend_from_slice(&len.to_ne_bytes());
    m.extend_from_slice(&libc::RTM_NEWLINK.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel
    m.push(libc::AF_UNSPEC as u8); // ifi_family
    m.push(0); // padding
    m.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
    m.extend_from_slice(&ifindex.to_ne_bytes());
    m.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes()); // ifi_flags
    m.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes()); // ifi_change
    m
}

/// The errno of an NLMSG_ERROR ack (0 is success).
fn ack_errno(reply: &[u8]) -> io::Result<()> {
    if reply.len() < NLMSG_HDRLEN + 4 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "short netlink reply",
        ));
    }
    let typ = u16::from_ne_bytes([reply[4], reply[5]]);
    if typ != NLMSG_ERROR {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("netlink reply of type {typ}, expected an ack"),
        ));
    }
    let err = i32::from_ne_bytes(reply[16..20].try_into().expect("4 bytes"));
    match err {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(-e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlink_message_has_its_length_type_and_flags() {
        let m = newlink_up(LOOPBACK_INDEX, 7);
        assert_eq!(m.len(), 32);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 32);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), libc::RTM_NEWLINK);
        assert_eq!(i32::from_ne_bytes(m[20..24].try_into().unwrap()), 1);
        let up = libc::IFF_UP as u32;
        assert_eq!(u32::from_ne_bytes(m[24..28].try_into().unwrap()), up);
        assert_eq!(u32::from_ne_bytes(m[28..32].try_into().unwrap()), up);
    }

    #[test]
    fn ack_carries_the_kernels_errno() {
        let mut r = vec![0u8; 36];
        r[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert!(ack_errno(&r).is_ok());
        r[16..20].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
        assert_eq!(ack_errno(&r).unwrap_err().raw_os_error(), Some(libc::EPERM));
        assert!(ack_errno(&r[..10]).is_err());
    }
}
