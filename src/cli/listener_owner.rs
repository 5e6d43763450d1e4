//! Who owns the socket listening on a loopback TCP port, from `/proc/net/tcp` and `tcp6`.
//!
//! Only for talking to a server of an older protocol, which cannot answer the handshake that
//! proves it holds the token (`sccache_core::handshake`): `--stop-server` may then send it
//! the token itself, but only when every socket listening where a connection to
//! `127.0.0.1:port` can land belongs to this user. Another account could have bound the port
//! first, and must not receive the token. This module reads; it sends nothing.

use sccache_core::access::current_uid;

/// The state column's value for a listening socket.
const LISTEN: &str = "0A";

/// Whether some socket listens on `port` for 127.0.0.1 and every such socket is this
/// user's. Unreadable tables answer `false`.
pub fn listener_is_ours(port: u16) -> bool {
    let mut uids = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        match std::fs::read_to_string(table) {
            Ok(text) => uids.extend(listening_uids(&text, port)),
            // A kernel without IPv6 has no tcp6 table.
            Err(_) if table.ends_with('6') => {}
            Err(_) => return false,
        }
    }
    let own = current_uid();
    !uids.is_empty() && uids.iter().all(|&uid| uid == own)
}

/// The uids of the sockets in a `/proc/net/tcp` or `tcp6` table that listen on `port` at an
/// address a connection to 127.0.0.1 reaches. A line that does not parse counts as
/// another user's (`u32::MAX`), so doubt refuses.
fn listening_uids(table: &str, port: u16) -> Vec<u32> {
    let mut uids = Vec::new();
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
            continue;
        };
        if *state != LISTEN {
            continue;
        }
        let Some((address, local_port)) = local.split_once(':') else {
            uids.push(u32::MAX);
            continue;
        };
        if u16::from_str_radix(local_port, 16) != Ok(port) {
            continue;
        }
        match address_bytes(address) {
            Some(bytes) if reaches_loopback(&bytes) => {}
            Some(_) => continue,
            None => {
                uids.push(u32::MAX);
                continue;
            }
        }
        let uid = fields.get(7).and_then(|uid| uid.parse().ok());
        uids.push(uid.unwrap_or(u32::MAX));
    }
    uids
}

/// An address as the kernel prints it: 32-bit words in hexadecimal, each in this machine's
/// byte order.
fn address_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(8) || hex.is_empty() {
        return None;
    }
    let mut bytes = Vec::with_capacity(hex.len() / 2);
    for start in (0..hex.len()).step_by(8) {
        let word = u32::from_str_radix(hex.get(start..start + 8)?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    Some(bytes)
}

/// Whether a listener bound to this address receives connections to 127.0.0.1: the address
/// itself, the wildcard, or their IPv6 forms (`::`, `::ffff:127.0.0.1`).
fn reaches_loopback(bytes: &[u8]) -> bool {
    const LOOPBACK: [u8; 4] = [127, 0, 0, 1];
    match bytes.len() {
        4 => bytes == LOOPBACK || bytes == [0; 4],
        16 => {
            let (prefix, last) = bytes.split_at(12);
            let mapped = prefix[..10] == [0; 10] && prefix[10..] == [0xff, 0xff];
            bytes == [0; 16] || (mapped && last == LOOPBACK)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(bytes: [u8; 4]) -> String {
        format!("{:08X}", u32::from_ne_bytes(bytes))
    }

    fn table(rows: &[(String, u16, &str, u32)]) -> String {
        let mut text = String::from("  sl  local_address rem_address   st tx_queue ... uid\n");
        for (index, (address, port, state, uid)) in rows.iter().enumerate() {
            text.push_str(&format!(
                "   {index}: {address}:{port:04X} 00000000:0000 {state} 00000000:00000000 \
                 00:00000000 00000000 {uid:>5}        0 177 1 0000000005435869 100 0 0 10 0\n"
            ));
        }
        text
    }

    #[test]
    fn listeners_reaching_loopback_on_the_port_are_counted() {
        let loopback = word([127, 0, 0, 1]);
        let text = table(&[
            (loopback.clone(), 4226, LISTEN, 1000),
            (word([0, 0, 0, 0]), 4226, LISTEN, 1001),
            // Another address, another port, a connection rather than a listener.
            (word([10, 0, 0, 5]), 4226, LISTEN, 1002),
            (loopback.clone(), 4227, LISTEN, 1003),
            (loopback, 4226, "01", 1004),
        ]);
        assert_eq!(listening_uids(&text, 4226), vec![1000, 1001]);
    }

    #[test]
    fn ipv6_wildcard_and_mapped_loopback_are_counted() {
        let mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1];
        let mapped: String = mapped
            .chunks(4)
            .map(|chunk| word([chunk[0], chunk[1], chunk[2], chunk[3]]))
            .collect();
        let text = table(&[
            ("0".repeat(32), 80, LISTEN, 7),
            (mapped, 80, LISTEN, 8),
            (
                format!("{}{}", "0".repeat(24), word([0, 0, 0, 1])),
                80,
                LISTEN,
                9,
            ),
        ]);
        assert_eq!(listening_uids(&text, 80), vec![7, 8]);
    }

    #[test]
    fn a_listener_of_this_process_is_ours_and_a_free_port_is_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(listener_is_ours(port));
        drop(listener);
        // Another test of this process may bind a freed port at once: one of a few freed
        // ports found free is enough.
        let freed = |_| {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            drop(listener);
            !listener_is_ours(port)
        };
        assert!(!listener_is_ours(port) || (0..5).any(freed));
    }
}
