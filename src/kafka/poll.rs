//! Waiting for a socket to become readable, with sub-millisecond precision: `ppoll(2)`, which
//! `std` does not offer. The only `unsafe` of the program outside tests.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Whether `socket` has bytes to read (or an end of stream or error to report) within
/// `wait`; `Ok(false)` when the wait ran out. An interrupted wait counts as run out.
pub fn readable(socket: &impl AsRawFd, wait: Duration) -> io::Result<bool> {
    let mut fd = libc::pollfd { fd: socket.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    let timeout =
        libc::timespec { tv_sec: wait.as_secs().min(i32::MAX as u64) as _, tv_nsec: wait.subsec_nanos() as _ };
    // SAFETY: `fd` and `timeout` are valid for the call and not kept by it; one descriptor
    // is passed, as the count says; a null signal mask leaves the mask as it is.
    let n = unsafe { libc::ppoll(&mut fd, 1, &timeout, std::ptr::null()) };
    match n {
        0 => Ok(false),
        n if n > 0 => Ok(true),
        _ => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(e) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    #[test]
    fn waits_at_most_as_long_as_asked_and_sees_bytes_arrive() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let t0 = Instant::now();
        assert!(!readable(&client, Duration::from_micros(300)).unwrap());
        assert!(t0.elapsed() < Duration::from_millis(50), "{:?}", t0.elapsed());
        assert!(!readable(&client, Duration::ZERO).unwrap());
        server.write_all(b"x").unwrap();
        assert!(readable(&client, Duration::from_secs(5)).unwrap());
        drop(server);
        assert!(readable(&client, Duration::from_secs(5)).unwrap(), "an end of stream is readable");
    }
}
