//! The byte stream under a connection: plain TCP, or TLS over it. Timeouts are set on the TCP
//! socket either way, so the connection's sliced waits (stop, deadline) work the same.

use std::io::{self, Read, Write};
use std::net::TcpStream;

#[cfg(feature = "tls")]
use super::tls::TlsStream;

pub enum Transport {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream>),
}

impl Transport {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            #[cfg(feature = "tls")]
            Transport::Tls(s) => &s.sock,
        }
    }

    pub fn is_tls(&self) -> bool {
        !matches!(self, Transport::Plain(_))
    }

    /// Whether the TLS handshake is still under way (what a wait is then waiting for).
    pub fn handshaking(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.conn.is_handshaking(),
        }
    }

    /// Whether bytes are already here to read without the socket: TLS records read from the
    /// socket earlier and decrypted (or an error to report).
    pub fn buffered(&mut self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.conn.process_new_packets().map_or(true, |state| state.plaintext_bytes_to_read() > 0),
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.write(buf),
        }
    }

    /// With TLS: until every record rustls holds is on the socket.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.flush(),
        }
    }
}

/// The TLS error inside an I/O error, if it is one (rustls reports through `io::Error`).
#[cfg(feature = "tls")]
pub fn tls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
}
