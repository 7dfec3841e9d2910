//! The kernel's share of a paced producer, measured alone: `make bench` (section 10) runs this
//! beside pos-producer and kcat to show what one request per sale costs when nothing else runs.
//!
//! At each due time (RATE per second, for SECONDS) it wakes on a timer, sends one request of
//! REQUEST_BYTES to the broker and waits for its answer: the two wake-ups and the round trip a
//! producer needs for a sale that goes alone, which is every sale at 100/s with a 5 ms linger.
//! The request is an ApiVersions v0 whose client id pads it to the size asked for (a Produce
//! request of one sale is about 450 bytes), so the broker answers at once and stores nothing.
//!
//! Usage: `cargo run --release --example paced_floor -- HOST:PORT RATE SECONDS [REQUEST_BYTES]`
//! It prints how many round trips it made; the caller measures its CPU time.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// ApiVersions is key 18; version 0 has no body and is answered by every broker since 0.10.
const API_VERSIONS: i16 = 18;
/// Size prefix, key, version, correlation id and the client id's length.
const HEADER_BYTES: usize = 4 + 2 + 2 + 4 + 2;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: paced_floor HOST:PORT RATE SECONDS [REQUEST_BYTES]";
    let (Some(addr), Some(rate), Some(seconds)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let number = |name: &str, text: &str, min: f64, max: f64| match text.parse::<f64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(format!("paced_floor: {name} {text}: expected a number from {min} to {max}")),
    };
    let parsed = (|| {
        let rate = number("RATE", rate, 0.001, 1_000_000.0)?;
        let seconds = number("SECONDS", seconds, 0.0, 86_400.0)?;
        let bytes = number("REQUEST_BYTES", args.get(3).map_or("450", String::as_str), 32.0, 32_000.0)?;
        Ok::<_, String>((rate, seconds, bytes as usize))
    })();
    let (rate, seconds, bytes) = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(addr, rate, seconds, bytes) {
        Ok(trips) => {
            println!("{trips}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("paced_floor: {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Round trips at the pace until the time is up; returns how many were made.
fn run(addr: &str, rate: f64, seconds: f64, bytes: usize) -> std::io::Result<u64> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let client_id = bytes - HEADER_BYTES;
    let mut request = Vec::with_capacity(bytes);
    request.extend_from_slice(&((bytes - 4) as i32).to_be_bytes());
    request.extend_from_slice(&API_VERSIONS.to_be_bytes());
    request.extend_from_slice(&0i16.to_be_bytes());
    request.extend_from_slice(&0i32.to_be_bytes());
    request.extend_from_slice(&(client_id as i16).to_be_bytes());
    request.resize(bytes, b'f');
    let mut answer = vec![0u8; 64 * 1024];
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let mut due = start;
    let mut trips = 0u64;
    while due < end {
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        stream.write_all(&request)?;
        // The answer: its size, then that many bytes (one read, almost always).
        let mut have = 0;
        loop {
            have += match stream.read(&mut answer[have..])? {
                0 => return Err(std::io::Error::other("the broker closed the connection")),
                n => n,
            };
            if have >= 4 {
                let size = i32::from_be_bytes([answer[0], answer[1], answer[2], answer[3]]);
                let whole = 4 + usize::try_from(size).unwrap_or(0);
                if whole > answer.len() {
                    return Err(std::io::Error::other(format!("an answer of {size} bytes")));
                }
                if have >= whole {
                    break;
                }
            }
        }
        trips += 1;
        due += interval;
    }
    Ok(trips)
}
