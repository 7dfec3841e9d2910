//! Resolving a broker's name and connecting to it, bounded in time and stopped by a stop.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::connection::{CONNECT_TIMEOUT, ConnectionError};
use crate::shutdown::Stop;

/// Resolves and connects on a helper thread, so that a stop is noticed within `POLL` even while
/// a name lookup or a connect to a silent address hangs.
pub fn connect(addr: &str, stop: &Stop, deadline: Option<Instant>) -> Result<TcpStream, ConnectionError> {
    let (tx, rx) = mpsc::channel();
    let target = addr.to_string();
    std::thread::spawn(move || {
        let _ = tx.send(resolve_and_connect(&target));
    });
    let own = Instant::now() + CONNECT_TIMEOUT + Duration::from_secs(1);
    let deadline = deadline.map_or(own, |d| d.min(own));
    loop {
        match rx.recv_timeout(crate::shutdown::POLL) {
            Ok(result) => return result,
            Err(mpsc::RecvTimeoutError::Timeout) if stop.is_set() => {
                return Err(ConnectionError::Stopped);
            }
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                let source = io::Error::new(io::ErrorKind::TimedOut, "name lookup or connect timed out");
                return Err(ConnectionError::Connect { addr: addr.to_string(), source });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let source = io::Error::other("connect thread ended without a result");
                return Err(ConnectionError::Connect { addr: addr.to_string(), source });
            }
        }
    }
}

fn resolve_and_connect(addr: &str) -> Result<TcpStream, ConnectionError> {
    let targets: Vec<SocketAddr> =
        addr.to_socket_addrs().map_err(|source| ConnectionError::Resolve { addr: addr.to_string(), source })?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for target in targets {
        match TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(ConnectionError::Connect { addr: addr.to_string(), source: last })
}
