//! The process at the other end of a loopback TCP connection, as the kernel tells it: a Unix
//! socket has peer credentials, a TCP connection does not, and a client that gives up on a
//! silent server (stopped, deadlocked) over TCP must still be able to stop it, or that
//! server's compiles go on and write their outputs later over the build's.
//!
//! Our socket's inode is found in `/proc/net/tcp` (or `tcp6`) with its two addresses; the
//! connection's other end is the line with the same two reversed, and its inode is held by the
//! process that has a descriptor `socket:[inode]`. Only a process of this user can be found
//! (another's descriptors are unreadable), and only one: several holders (a descriptor
//! inherited) or this process itself answer `None`. This module reads; it signals nothing.

use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

/// The process holding the other end of `stream`, when it is one process of this user other
/// than this one.
pub fn peer_process(stream: &impl AsFd) -> Option<rustix::process::Pid> {
    let ours = rustix::fs::fstat(stream.as_fd()).ok()?.st_ino;
    let peer = ["/proc/net/tcp", "/proc/net/tcp6"]
        .into_iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .find_map(|table| peer_inode(&table, ours))?;
    let own = std::process::id();
    match holders(peer).as_slice() {
        [pid] if *pid != own => rustix::process::Pid::from_raw(i32::try_from(*pid).ok()?),
        _ => None,
    }
}

/// In a `/proc/net/tcp` table, the inode of the other end of the connection whose socket is
/// `ours`: the socket whose local address is our remote one and whose remote is our local.
fn peer_inode(table: &str, ours: u64) -> Option<u64> {
    let sockets: Vec<(&str, &str, u64)> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let inode = fields.get(9)?.parse().ok()?;
            Some((*fields.get(1)?, *fields.get(2)?, inode))
        })
        .collect();
    let (local, remote, _) = sockets.iter().find(|(.., inode)| *inode == ours)?;
    let mut peers = sockets
        .iter()
        .filter(|(their_local, their_remote, inode)| {
            their_local == remote && their_remote == local && *inode != 0
        })
        .map(|(.., inode)| *inode);
    match (peers.next(), peers.next()) {
        (Some(inode), None) => Some(inode),
        _ => None,
    }
}

/// The processes (of this user: others' descriptors are unreadable) that hold `inode`.
fn holders(inode: u64) -> Vec<u32> {
    let target = format!("socket:[{inode}]");
    let uid = sccache_core::access::current_uid();
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    processes
        .flatten()
        .filter_map(|process| {
            let pid: u32 = process.file_name().to_str()?.parse().ok()?;
            (process.metadata().ok()?.uid() == uid).then_some(pid)
        })
        .filter(|pid| {
            std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
                fds.flatten().any(|fd| {
                    std::fs::read_link(fd.path())
                        .is_ok_and(|link| link.as_os_str() == target.as_str())
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{Ipv4Addr, TcpListener, TcpStream};

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1082 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 100 0 0 10 0
   1: 0100007F:1082 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 222 1 0 20 4 30 10 -1
   2: 0100007F:D431 0100007F:1082 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 20 4 30 10 -1
";

    #[test]
    fn the_peer_is_the_socket_with_the_addresses_reversed() {
        assert_eq!(peer_inode(TABLE, 333), Some(222));
        assert_eq!(peer_inode(TABLE, 222), Some(333));
        // A listening socket has no peer; an unknown socket is in no line.
        assert_eq!(peer_inode(TABLE, 111), None);
        assert_eq!(peer_inode(TABLE, 444), None);
    }

    /// A connection to a listener of another process names that process; one to a listener
    /// of this process names nobody (a client never signals itself).
    #[test]
    fn the_process_at_the_other_end_is_found_and_never_this_one() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let own = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _accepted = listener.accept().unwrap();
        assert_eq!(peer_process(&own), None);

        let mut child = std::process::Command::new("python3")
            .args([
                "-c",
                "import socket,sys\n\
                 s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(1)\n\
                 print(s.getsockname()[1], flush=True)\n\
                 c,_=s.accept(); sys.stdin.read()",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut port = String::new();
        let mut stdout = child.stdout.take().unwrap();
        let mut byte = [0u8; 1];
        while stdout.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
            port.push(byte[0] as char);
        }
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port.parse().unwrap())).unwrap();
        let mut found = None;
        for _ in 0..100 {
            found = peer_process(&stream);
            if found.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        drop(child.stdin.take());
        child.wait().unwrap();
        assert_eq!(
            found.map(|pid| pid.as_raw_nonzero().get()),
            Some(child.id() as i32)
        );
    }
}
