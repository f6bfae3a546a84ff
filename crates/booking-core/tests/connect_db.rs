//! The pool's PostgreSQL connections send every statement at once. With Nagle's algorithm on, a
//! statement longer than what the kernel puts in one segment (a batch of 64 bookings is some
//! 30 KB) sent its tail only after the server's delayed ACK, some 40 ms later. sqlx 0.9.0 had
//! stopped setting `TCP_NODELAY` and 0.9.1 sets it again; this test keeps a dependency change
//! from losing it unnoticed.

use std::mem::ManuallyDrop;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{FromRawFd, RawFd};

#[tokio::test]
async fn postgres_connections_are_opened_without_nagle_delay() {
    let Some(test_db) = test_support::postgres_db().await else {
        return;
    };
    let server = server_addresses(&test_db.url);
    let db = booking_core::db::connect(&test_db.url).await.unwrap();
    booking_core::db::ping(&db).await.unwrap();

    let to_server: Vec<(RawFd, bool)> = open_tcp_sockets()
        .filter(|(_, peer, _)| server.contains(peer))
        .map(|(fd, _, nodelay)| (fd, nodelay))
        .collect();
    assert!(
        !to_server.is_empty(),
        "no connection to {server:?} found among this process's sockets"
    );
    assert!(
        to_server.iter().all(|&(_, nodelay)| nodelay),
        "connections to PostgreSQL with Nagle's algorithm on (fd, TCP_NODELAY): {to_server:?}"
    );
    db.close().await.unwrap();
}

/// `host:port` of a `postgres://user@host:port/name` URL, resolved.
fn server_addresses(url: &str) -> Vec<SocketAddr> {
    let authority = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap();
    let host_port = authority.rsplit('@').next().unwrap();
    host_port.to_socket_addrs().unwrap().collect()
}

/// Every TCP socket this process has open: its descriptor, its peer and whether `TCP_NODELAY`
/// is set.
fn open_tcp_sockets() -> impl Iterator<Item = (RawFd, SocketAddr, bool)> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            if !target.to_string_lossy().starts_with("socket:") {
                return None;
            }
            let fd: RawFd = entry.file_name().to_str()?.parse().ok()?;
            // SAFETY: `fd` is an open socket of this process; ManuallyDrop leaves it open, and
            // only getpeername and getsockopt are called on it.
            let socket = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) });
            let peer = socket.peer_addr().ok()?;
            Some((fd, peer, socket.nodelay().ok()?))
        })
}
