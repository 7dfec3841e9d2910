//! Stdout through a writer thread: a reader that stops reading can block a `write` for ever,
//! and no signal interrupts it (handlers restart the call). The main loop hands filled buffers
//! to the thread and, when the thread is stuck, waits only as long as no stop is asked for.
//!
//! Backpressure stays: with `QUEUED` buffers waiting, the loop waits too (no unbounded memory).
//!
//! When the thread is idle and the write cannot block — stdout is a regular file, or a pipe with
//! room for it (`POLLOUT`: a free page; a write of at most `PIPE_BUF` bytes is atomic) — the
//! loop writes itself, and the thread is not woken for every event line: at one sale a second
//! that is a third of the process's wake-ups. A terminal or a socket always goes through the
//! thread.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::shutdown::{POLL, Stop, writable};

/// Buffers handed over but not yet written, at most.
const QUEUED: usize = 4;
/// A buffer is handed over once it holds this much, even before a flush.
const CHUNK: usize = 64 * 1024;
/// The most a pipe takes in one atomic write (POSIX `PIPE_BUF` on Linux).
const PIPE_BUF: usize = 4096;

/// Stdout where the loop may write itself: a pipe (then only with room) or a regular file.
struct Direct {
    out: File,
    pipe: bool,
}

impl Direct {
    /// Stdout, when it is a pipe or a regular file.
    fn stdout() -> Option<Direct> {
        let out = File::from(io::stdout().as_fd().try_clone_to_owned().ok()?);
        let kind = out.metadata().ok()?.file_type();
        (kind.is_fifo() || kind.is_file()).then_some(Direct { out, pipe: kind.is_fifo() })
    }
}

/// A `Write` for stdout whose writes never block on the reader past a stop.
pub struct StdoutPipe {
    buf: Vec<u8>,
    to_writer: Option<SyncSender<Vec<u8>>>,
    /// Emptied buffers coming back for reuse.
    spare: Receiver<Vec<u8>>,
    /// The first error the writer met; every later write fails with it.
    failed: Arc<Mutex<Option<io::Error>>>,
    /// Ends when the writer thread has written everything handed to it.
    finished: Receiver<()>,
    stop: Stop,
    /// Where the loop may write itself while the thread is idle.
    direct: Option<Direct>,
    /// Buffers handed to the thread and not yet back: the thread is idle at 0.
    outstanding: usize,
    /// An emptied buffer back from the thread, for the next one.
    pool: Option<Vec<u8>>,
}

impl StdoutPipe {
    pub fn start(stop: Stop) -> StdoutPipe {
        StdoutPipe::start_on(io::stdout(), Direct::stdout(), stop)
    }

    fn start_on(mut out: impl Write + Send + 'static, direct: Option<Direct>, stop: Stop) -> StdoutPipe {
        let (to_writer, from_main) = mpsc::sync_channel::<Vec<u8>>(QUEUED);
        let (give_back, spare) = mpsc::channel();
        let (finish, finished) = mpsc::channel();
        let failed = Arc::new(Mutex::new(None));
        let error = Arc::clone(&failed);
        std::thread::spawn(move || {
            for mut chunk in from_main {
                let result = out.write_all(&chunk).and_then(|()| out.flush());
                if let Err(e) = result {
                    *error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    break;
                }
                chunk.clear();
                let _ = give_back.send(chunk);
            }
            drop(finish);
        });
        StdoutPipe {
            buf: Vec::new(),
            to_writer: Some(to_writer),
            spare,
            failed,
            finished,
            stop,
            direct,
            outstanding: 0,
            pool: None,
        }
    }

    fn check(&self) -> io::Result<()> {
        match &*self.failed.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
            None => Ok(()),
        }
    }

    /// Hands the buffer to the writer thread, waiting while its queue is full, but never
    /// past a stop: then the error is `Interrupted`.
    fn hand_over(&mut self) -> io::Result<()> {
        self.check()?;
        if self.buf.is_empty() {
            return Ok(());
        }
        while let Ok(back) = self.spare.try_recv() {
            self.outstanding -= 1;
            self.pool.get_or_insert(back);
        }
        if self.write_direct()? {
            return Ok(());
        }
        let Some(to_writer) = &self.to_writer else {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "stdout closed"));
        };
        let next = self.pool.take().unwrap_or_default();
        let mut chunk = std::mem::replace(&mut self.buf, next);
        let mut pause = Duration::from_micros(100);
        loop {
            match to_writer.try_send(chunk) {
                Ok(()) => {
                    self.outstanding += 1;
                    return Ok(());
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.check()?;
                    return Err(io::Error::new(io::ErrorKind::BrokenPipe, "stdout writer ended"));
                }
                Err(TrySendError::Full(back)) => chunk = back,
            }
            if self.stop.is_set() {
                return Err(stopped());
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(POLL);
        }
    }

    /// Writes the buffer here, when the thread is idle (the order of lines is kept) and the
    /// write cannot block: whether it did. What a partial write leaves goes to the thread.
    fn write_direct(&mut self) -> io::Result<bool> {
        let Some(direct) = &mut self.direct else { return Ok(false) };
        if self.outstanding > 0 || self.buf.len() > PIPE_BUF || (direct.pipe && !writable(&direct.out)) {
            return Ok(false);
        }
        match direct.out.write(&self.buf) {
            Ok(n) if n == self.buf.len() => {
                self.buf.clear();
                Ok(true)
            }
            Ok(n) => {
                self.buf.drain(..n);
                Ok(false)
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock) => Ok(false),
            Err(e) => {
                let kind = e.kind();
                *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Err(io::Error::new(kind, "stdout write failed"))
            }
        }
    }

    /// Hands over what is buffered and waits until the thread has written it all, until
    /// `grace` after a stop at the latest (a reader that never reads cannot hold the exit).
    pub fn close(&mut self, grace: Duration) -> io::Result<()> {
        self.hand_over()?;
        drop(self.to_writer.take());
        let mut stop_deadline: Option<Instant> = None;
        loop {
            match self.finished.recv_timeout(POLL) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => return self.check(),
            }
            if self.stop.is_set() {
                let deadline = *stop_deadline.get_or_insert_with(|| Instant::now() + grace);
                if Instant::now() >= deadline {
                    return Err(stopped());
                }
            }
        }
    }
}

fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "stopped while stdout was not being read")
}

impl Write for StdoutPipe {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check()?;
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.hand_over()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.hand_over()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that blocks until told to go on, then collects.
    struct Gate(Receiver<()>, Arc<Mutex<Vec<u8>>>);

    impl Write for Gate {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            let _ = self.0.recv();
            self.1.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn everything_written_arrives_in_order_on_close() {
        let (go, gate) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut pipe = StdoutPipe::start_on(Gate(gate, Arc::clone(&seen)), None, Stop::default());
        for i in 0..3 {
            writeln!(pipe, "line {i}").unwrap();
            pipe.flush().unwrap();
            go.send(()).unwrap();
        }
        pipe.close(Duration::ZERO).unwrap();
        assert_eq!(String::from_utf8(seen.lock().unwrap().clone()).unwrap(), "line 0\nline 1\nline 2\n");
    }

    #[test]
    fn a_stop_ends_a_wait_on_a_writer_that_never_writes() {
        let (_go, gate) = mpsc::channel();
        let stop = Stop::default();
        let mut pipe = StdoutPipe::start_on(Gate(gate, Arc::default()), None, stop.clone());
        let setter = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            setter.set();
        });
        let t0 = Instant::now();
        let err = loop {
            writeln!(pipe, "a line").unwrap();
            if let Err(e) = pipe.flush() {
                break e;
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
        assert_eq!(pipe.close(Duration::from_millis(100)).unwrap_err().kind(), io::ErrorKind::Interrupted);
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    }

    /// A pipe as stdout: the loop's end for `Direct`, and the reading end.
    fn pipe() -> (Direct, std::io::PipeReader) {
        let (reader, writer) = std::io::pipe().unwrap();
        (Direct { out: File::from(std::os::fd::OwnedFd::from(writer)), pipe: true }, reader)
    }

    #[test]
    fn with_room_in_the_pipe_the_loop_writes_itself_and_the_thread_is_not_woken() {
        // The thread's writer never opens its gate: anything handed to it would stay there.
        let (_go, gate) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (direct, mut reader) = pipe();
        let mut out = StdoutPipe::start_on(Gate(gate, Arc::clone(&seen)), Some(direct), Stop::default());
        for i in 0..3 {
            writeln!(out, "line {i}").unwrap();
            out.flush().unwrap();
        }
        let mut got = vec![0u8; 21];
        std::io::Read::read_exact(&mut reader, &mut got).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), "line 0\nline 1\nline 2\n");
        assert_eq!(out.outstanding, 0);
        assert!(seen.lock().unwrap().is_empty(), "nothing went through the thread");
    }

    #[test]
    fn a_full_pipe_goes_through_the_thread_and_the_order_is_kept() {
        let (go, gate) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (mut direct, mut reader) = pipe();
        // Fill the pipe (64 KiB on Linux) so that it has no room: no POLLOUT.
        let mut filled = 0;
        while writable(&direct.out) {
            filled += direct.out.write(&[b'.'; 4096]).unwrap();
        }
        let mut out = StdoutPipe::start_on(Gate(gate, Arc::clone(&seen)), Some(direct), Stop::default());
        writeln!(out, "to the thread").unwrap();
        out.flush().unwrap();
        assert_eq!(out.outstanding, 1, "handed to the thread, not written into the full pipe");
        // Room again, but the thread still holds a line: the next one queues behind it.
        let mut drained = vec![0u8; filled];
        std::io::Read::read_exact(&mut reader, &mut drained).unwrap();
        writeln!(out, "after it").unwrap();
        out.flush().unwrap();
        go.send(()).unwrap();
        go.send(()).unwrap();
        out.close(Duration::ZERO).unwrap();
        assert_eq!(String::from_utf8(seen.lock().unwrap().clone()).unwrap(), "to the thread\nafter it\n");
    }

    #[test]
    fn a_closed_reader_is_a_broken_pipe() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut pipe = StdoutPipe::start_on(Closed, None, Stop::default());
        writeln!(pipe, "x").unwrap();
        pipe.flush().unwrap();
        assert_eq!(pipe.close(Duration::ZERO).unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }
}
