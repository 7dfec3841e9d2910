//! The stop flag: SIGINT and SIGTERM flip it, and every wait in the program watches it.
//!
//! A handler is installed for both signals, which also makes them work when the process is
//! PID 1 in a container (where signals without a handler are ignored by the kernel). Besides
//! the flag, a signal writes a byte to a self-pipe that every wait polls with its socket, so a
//! wait sleeps until its deadline, its socket or a stop, and nothing wakes it in between (an
//! idle producer at one sale a second wakes for the sale, the broker's answer and the stats
//! line, not every few milliseconds to look at the flag). The pipe is never drained: once
//! stopped, every later wait returns at once. An answer awaited inside a blocking read of its
//! socket (`kafka::wait::ReadWait`) is woken by the signal itself, which interrupts the read
//! (a socket read with a timeout is never restarted); were the signal taken by another thread,
//! the read's slice (at most `POLL`) bounds how late the stop is seen.
//!
//! `ppoll(2)` (sub-millisecond timeouts, which `std` does not offer; and whether stdout takes a
//! write now, for [`writable`]) and `clock_getres(2)` (the kernel's tick, [`kernel_tick`]) are
//! the program's `unsafe` calls outside tests, with `getrusage(2)` in `metrics/process.rs`.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a blocking socket call lasts at most, while bytes of an answer are arriving: the
/// bound on how late a stop is noticed in the middle of a transfer.
pub const POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
pub struct Stop(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    flag: Arc<AtomicBool>,
    /// Readable once a stop was asked for.
    wake: UnixStream,
    /// Where a stop writes its byte.
    waker: UnixStream,
}

/// What ended a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// The socket has bytes to read (or an end of stream or an error to report).
    Readable,
    Stopped,
    TimedOut,
}

impl Stop {
    /// A flag that nothing but [`Stop::set`] sets.
    pub fn new() -> io::Result<Stop> {
        let (wake, waker) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        waker.set_nonblocking(true)?;
        Ok(Stop(Arc::new(Inner { flag: Arc::default(), wake, waker })))
    }

    /// A flag that SIGINT and SIGTERM set.
    pub fn on_signals() -> io::Result<Stop> {
        let stop = Stop::new()?;
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // The flag first: a wait woken by the pipe then finds it set.
            signal_hook::flag::register(sig, Arc::clone(&stop.0.flag))?;
            signal_hook::low_level::pipe::register(sig, stop.0.waker.try_clone()?)?;
        }
        Ok(stop)
    }

    pub fn is_set(&self) -> bool {
        self.0.flag.load(Ordering::Relaxed)
    }

    /// Asks for a stop, as a signal does.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn set(&self) {
        self.0.flag.store(true, Ordering::Relaxed);
        // A full pipe already wakes every wait: nothing to do about a failed write.
        let _ = (&self.0.waker).write(&[1]);
    }

    /// Sleeps until `deadline` or until the flag is set; true when the deadline was reached.
    pub fn sleep_until(&self, deadline: Instant) -> bool {
        loop {
            if self.is_set() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            // An error of ppoll (none is expected) must not turn the sleep into a busy loop.
            if self.wait(None::<&UnixStream>, deadline - now).is_err() {
                std::thread::sleep((deadline - now).min(POLL));
            }
        }
    }

    /// Waits until `socket` (if any) is readable, a stop is asked for, or `wait` has passed.
    /// An interrupted wait counts as run out.
    pub fn wait(&self, socket: Option<&impl AsRawFd>, wait: Duration) -> io::Result<Woke> {
        if self.is_set() {
            return Ok(Woke::Stopped);
        }
        let fd = |fd: RawFd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        let mut fds = [fd(self.0.wake.as_raw_fd()), fd(socket.map_or(-1, |s| s.as_raw_fd()))];
        let count = if socket.is_some() { 2 } else { 1 };
        let timeout =
            libc::timespec { tv_sec: wait.as_secs().min(i32::MAX as u64) as _, tv_nsec: wait.subsec_nanos() as _ };
        // SAFETY: `fds` and `timeout` are valid for the call and not kept by it; `count` is at
        // most the array's length; a null signal mask leaves the mask as it is.
        let n = unsafe { libc::ppoll(fds.as_mut_ptr(), count as libc::nfds_t, &timeout, std::ptr::null()) };
        match n {
            0 => Ok(Woke::TimedOut),
            n if n > 0 && fds[1].revents != 0 && socket.is_some() => Ok(Woke::Readable),
            n if n > 0 => Ok(if self.is_set() { Woke::Stopped } else { Woke::TimedOut }),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted { Ok(Woke::TimedOut) } else { Err(e) }
            }
        }
    }
}

/// The kernel's timer tick (1/HZ: 1, 3.3, 4 or 10 ms), the unit in which it counts a socket's
/// read timeout (`SO_RCVTIMEO`); `None` if it cannot be told. The coarse clock's resolution is
/// that tick. Asked once.
pub fn kernel_tick() -> Option<Duration> {
    static TICK: std::sync::OnceLock<Option<Duration>> = std::sync::OnceLock::new();
    *TICK.get_or_init(|| {
        let mut res = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `res` is valid for the call, which only writes it.
        let ok = unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut res) } == 0;
        let tick = Duration::new(res.tv_sec.max(0) as u64, res.tv_nsec.clamp(0, 999_999_999) as u32);
        // A tick outside 1–10 ms is not the timer wheel's (a kernel without a coarse clock).
        (ok && (Duration::from_millis(1)..=Duration::from_millis(10)).contains(&tick)).then_some(tick)
    })
}

/// Whether `fd` takes a write now (`POLLOUT`, looked at once, no wait); an error or a hang-up
/// counts as not writable (the writer that meets it says which).
pub fn writable(fd: &impl AsRawFd) -> bool {
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
    let now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `pfd` and `now` are valid for the call and not kept by it; one descriptor is
    // passed, as the count says; a null signal mask leaves the mask as it is.
    let n = unsafe { libc::ppoll(&mut pfd, 1, &now, std::ptr::null()) };
    n == 1 && pfd.revents & libc::POLLOUT != 0 && pfd.revents & (libc::POLLERR | libc::POLLHUP) == 0
}

#[cfg(test)]
impl Default for Stop {
    fn default() -> Stop {
        Stop::new().expect("a socket pair for the stop flag")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn sleep_ends_at_the_deadline() {
        let stop = Stop::default();
        let t0 = Instant::now();
        assert!(stop.sleep_until(t0 + Duration::from_millis(30)));
        assert!(t0.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn a_set_flag_ends_a_long_sleep() {
        let stop = Stop::default();
        let other = stop.clone();
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            other.set();
        });
        assert!(!stop.sleep_until(Instant::now() + Duration::from_secs(3600)));
        setter.join().unwrap();
    }

    #[test]
    fn once_stopped_every_wait_returns_at_once() {
        // The pipe is not drained: the byte of the stop wakes every later wait too.
        let stop = Stop::default();
        assert_eq!(stop.wait(None::<&TcpStream>, Duration::from_millis(1)).unwrap(), Woke::TimedOut);
        stop.set();
        for _ in 0..3 {
            assert_eq!(stop.wait(None::<&TcpStream>, Duration::from_secs(3600)).unwrap(), Woke::Stopped);
        }
        assert!(!stop.sleep_until(Instant::now() + Duration::from_secs(3600)));
    }

    #[test]
    fn a_wait_sees_its_socket_and_a_stop_while_waiting_for_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let stop = Stop::default();
        let t0 = Instant::now();
        assert_eq!(stop.wait(Some(&client), Duration::from_micros(300)).unwrap(), Woke::TimedOut);
        assert!(t0.elapsed() < Duration::from_millis(50), "{:?}", t0.elapsed());
        server.write_all(b"x").unwrap();
        assert_eq!(stop.wait(Some(&client), Duration::from_secs(5)).unwrap(), Woke::Readable);
        let (client2, other) = (TcpStream::connect(listener.local_addr().unwrap()).unwrap(), stop.clone());
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            other.set();
        });
        assert_eq!(stop.wait(Some(&client2), Duration::from_secs(3600)).unwrap(), Woke::Stopped);
        setter.join().unwrap();
    }
}
