//! rtnetlink requests, made by hand: a message is a few fixed-size headers and attributes,
//! and a socket with its acks needs no crate (and no async runtime). Used to bring a
//! network namespace's loopback up from inside it, and for `linux.netDevices`: find a link
//! by name, list its addresses, move it (renamed) into another namespace, add addresses.

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

const NLMSG_DONE: u16 = 3;
const IFADDRMSG_LEN: usize = 8;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;

/// A link as RTM_GETLINK describes it.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub index: i32,
    pub flags: u32,
}

/// An interface address (the fields re-adding it needs).
#[derive(Debug, Clone, PartialEq)]
pub struct Addr {
    pub family: u8,
    pub prefix_len: u8,
    pub flags: u32,
    pub scope: u8,
    pub local: Vec<u8>,
}

/// An rtnetlink socket in the caller's current network namespace (it stays bound to that
/// namespace whatever the caller joins later).
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
}

impl Socket {
    pub fn new() -> io::Result<Socket> {
        Ok(Socket {
            fd: route_socket()?,
            seq: 0,
        })
    }

    fn send(&mut self, mut msg: Vec<u8>) -> io::Result<()> {
        self.seq += 1;
        msg[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        // SAFETY: send reads msg.len() bytes from a live buffer on an fd we own.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn recv(&self) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; 32 * 1024];
        // SAFETY: recv writes at most buf.len() bytes into a live buffer on an fd we own.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        buf.truncate(n as usize);
        Ok(buf)
    }

    /// Send a request with NLM_F_ACK and wait for its ack.
    fn ack(&mut self, msg: Vec<u8>) -> io::Result<()> {
        self.send(msg)?;
        ack_errno(&self.recv()?)
    }

    /// The link named `name`; ENODEV when this namespace has none.
    pub fn link_by_name(&mut self, name: &str) -> io::Result<Link> {
        let mut m = header(libc::RTM_GETLINK, libc::NLM_F_REQUEST as u16);
        ifinfomsg(&mut m, 0, 0, 0);
        attr(&mut m, IFLA_IFNAME, &cstr(name));
        self.send(finish(m))?;
        let reply = self.recv()?;
        if msg_type(&reply) == NLMSG_ERROR {
            ack_errno(&reply)?;
        }
        if reply.len() < NLMSG_HDRLEN + IFINFOMSG_LEN || msg_type(&reply) != libc::RTM_NEWLINK {
            return Err(invalid("unexpected RTM_GETLINK reply"));
        }
        let b = &reply[NLMSG_HDRLEN..];
        Ok(Link {
            index: i32::from_ne_bytes(b[4..8].try_into().expect("4 bytes")),
            flags: u32::from_ne_bytes(b[8..12].try_into().expect("4 bytes")),
        })
    }

    /// Set or clear IFF_UP on link `index`.
    pub fn set_up(&mut self, index: i32, up: bool) -> io::Result<()> {
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
        let mut m = header(libc::RTM_NEWLINK, flags);
        let iff_up = libc::IFF_UP as u32;
        ifinfomsg(&mut m, index, if up { iff_up } else { 0 }, iff_up);
        self.ack(finish(m))
    }

    /// Move link `index` into the network namespace `netns_fd`, named `new_name` there
    /// (one request: the rename and the move happen together or not at all).
    pub fn move_link(&mut self, index: i32, new_name: &str, netns_fd: i32) -> io::Result<()> {
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
        let mut m = header(libc::RTM_NEWLINK, flags);
        ifinfomsg(&mut m, index, 0, 0);
        attr(&mut m, IFLA_IFNAME, &cstr(new_name));
        attr(&mut m, IFLA_NET_NS_FD, &(netns_fd as u32).to_ne_bytes());
        self.ack(finish(m))
    }

    /// Every address of link `index` (all families).
    pub fn addresses(&mut self, index: i32) -> io::Result<Vec<Addr>> {
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
        let mut m = header(libc::RTM_GETADDR, flags);
        m.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
        m.extend_from_slice(&0u32.to_ne_bytes());
        self.send(finish(m))?;
        let mut out = Vec::new();
        loop {
            let reply = self.recv()?;
            let mut rest = &reply[..];
            while rest.len() >= NLMSG_HDRLEN {
                let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
                if len < NLMSG_HDRLEN || len > rest.len() {
                    return Err(invalid("truncated RTM_GETADDR reply"));
                }
                match msg_type(rest) {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => ack_errno(&rest[..len])?,
                    libc::RTM_NEWADDR => {
                        if let Some(a) = parse_addr(&rest[NLMSG_HDRLEN..len], index) {
                            out.push(a);
                        }
                    }
                    _ => {}
                }
                rest = &rest[align(len).min(rest.len())..];
            }
        }
    }

    /// Add `a` to link `index`.
    pub fn add_address(&mut self, index: i32, a: &Addr) -> io::Result<()> {
        let flags =
            (libc::NLM_F_REQUEST | libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
        let mut m = header(libc::RTM_NEWADDR, flags);
        m.extend_from_slice(&[a.family, a.prefix_len, 0, a.scope]);
        m.extend_from_slice(&(index as u32).to_ne_bytes());
        attr(&mut m, IFA_LOCAL, &a.local);
        attr(&mut m, IFA_ADDRESS, &a.local);
        self.ack(finish(m))
    }
}

/// One RTM_NEWADDR body, if it belongs to link `index`.
fn parse_addr(b: &[u8], index: i32) -> Option<Addr> {
    if b.len() < IFADDRMSG_LEN {
        return None;
    }
    if u32::from_ne_bytes(b[4..8].try_into().ok()?) != index as u32 {
        return None;
    }
    let mut a = Addr {
        family: b[0],
        prefix_len: b[1],
        flags: b[2] as u32,
        scope: b[3],
        local: Vec::new(),
    };
    let mut address = Vec::new();
    let mut rest = &b[IFADDRMSG_LEN..];
    while rest.len() >= 4 {
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let typ = u16::from_ne_bytes([rest[2], rest[3]]);
        if len < 4 || len > rest.len() {
            break;
        }
        let data = &rest[4..len];
        match typ {
            IFA_LOCAL => a.local = data.to_vec(),
            IFA_ADDRESS => address = data.to_vec(),
            IFA_FLAGS if data.len() == 4 => a.flags = u32::from_ne_bytes(data.try_into().ok()?),
            _ => {}
        }
        rest = &rest[align(len).min(rest.len())..];
    }
    // IPv6 addresses carry only IFA_ADDRESS; on point-to-point links IFA_ADDRESS is the peer.
    if a.local.is_empty() {
        a.local = address;
    }
    Some(a)
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn msg_type(m: &[u8]) -> u16 {
    u16::from_ne_bytes([m[4], m[5]])
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// nlmsghdr with a zero length (set by `finish`) and sequence (set by `Socket::send`).
fn header(typ: u16, flags: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&typ.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m
}

fn ifinfomsg(m: &mut Vec<u8>, index: i32, flags: u32, change: u32) {
    m.push(libc::AF_UNSPEC as u8);
    m.push(0);
    m.extend_from_slice(&0u16.to_ne_bytes());
    m.extend_from_slice(&index.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&change.to_ne_bytes());
}

fn attr(m: &mut Vec<u8>, typ: u16, data: &[u8]) {
    let len = (4 + data.len()) as u16;
    m.extend_from_slice(&len.to_ne_bytes());
    m.extend_from_slice(&typ.to_ne_bytes());
    m.extend_from_slice(data);
    m.resize(align(m.len()), 0);
}

fn finish(mut m: Vec<u8>) -> Vec<u8> {
    let len = m.len() as u32;
    m[0..4].copy_from_slice(&len.to_ne_bytes());
    m
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
    fn attributes_are_padded_and_the_length_is_the_whole_message() {
        let mut m = header(libc::RTM_NEWLINK, 1);
        ifinfomsg(&mut m, 5, 0, 0);
        attr(&mut m, IFLA_IFNAME, &cstr("eth0"));
        let m = finish(m);
        assert_eq!(m.len(), 32 + 12);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 44);
        assert_eq!(u16::from_ne_bytes([m[32], m[33]]), 9);
        assert_eq!(&m[36..41], b"eth0\0");
    }

    #[test]
    fn an_address_of_another_link_is_skipped_and_ipv6_takes_ifa_address() {
        let mut b = vec![libc::AF_INET6 as u8, 64, 0x80, 0];
        b.extend_from_slice(&3u32.to_ne_bytes());
        attr(&mut b, IFA_ADDRESS, &[0xfe; 16]);
        assert!(parse_addr(&b, 4).is_none());
        let a = parse_addr(&b, 3).unwrap();
        assert_eq!((a.prefix_len, a.flags, a.local.len()), (64, 0x80, 16));
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
