//! The record batch codecs, both ways: what a batch's attribute bits 0–2 name, how its records
//! are compressed as Kafka's own clients frame them, and how they are inflated within a bound.
//!
//! Every codec is pure Rust (no C for either musl target): gzip (`flate2` over miniz_oxide),
//! snappy (`snap`, in snappy-java's framing), lz4 (`lz4_flex`, the LZ4 frame format as KIP-57
//! fixed it for Kafka) and zstd (`ruzstd`, zstd frames, Kafka 2.1+). Every build reads all
//! four: a restart must resume from any topic, whatever its `compression.type`.
//!
//! Decoding is bounded: at most `limit` bytes come out of one batch, and what a codec reserves
//! ahead of its output is bounded too (lz4 blocks of at most 4 MiB, zstd windows of at most
//! [`zstd::MAX_WINDOW`]).

mod gzip;
mod lz4;
mod snappy;
mod zstd;

use std::fmt;

/// A batch's codec (attribute bits 0–2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Codec {
    /// The codec attribute bits 0–2 name; `Err`: a value no Kafka defines.
    pub fn from_attributes(attributes: i16) -> Result<Codec, i16> {
        match attributes & 7 {
            0 => Ok(Codec::None),
            1 => Ok(Codec::Gzip),
            2 => Ok(Codec::Snappy),
            3 => Ok(Codec::Lz4),
            4 => Ok(Codec::Zstd),
            other => Err(other),
        }
    }

    /// Its attribute bits.
    pub fn attributes(self) -> i16 {
        match self {
            Codec::None => 0,
            Codec::Gzip => 1,
            Codec::Snappy => 2,
            Codec::Lz4 => 3,
            Codec::Zstd => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Gzip => "gzip",
            Codec::Snappy => "snappy",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Appends `input` compressed with `codec` to `out` (`None`: as it is).
pub fn compress(codec: Codec, input: &[u8], out: &mut Vec<u8>) {
    match codec {
        Codec::None => out.extend_from_slice(input),
        Codec::Gzip => gzip::compress(input, out),
        Codec::Snappy => snappy::compress(input, out),
        Codec::Lz4 => lz4::compress(input, out),
        Codec::Zstd => zstd::compress(input, out),
    }
}

/// Inflates `input`, at most `limit` bytes of it; every failure is a line in words.
pub fn decompress(codec: Codec, input: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let out = match codec {
        Codec::None => return Ok(input.to_vec()),
        Codec::Gzip => gzip::decompress(input, limit),
        Codec::Snappy => snappy::decompress(input, limit),
        Codec::Lz4 => lz4::decompress(input, limit),
        Codec::Zstd => zstd::decompress(input, limit),
    };
    match out {
        Ok(out) if out.len() <= limit => Ok(out),
        Ok(_) | Err(Broken::TooBig) => Err(format!("{codec} data inflates beyond {} MiB", limit >> 20)),
        Err(Broken::Because(why)) => Err(format!("{codec}: {}", in_words(&why))),
    }
}

/// A codec's error as words: the leading parts of its message that are phrases, not a debug
/// rendering of nested error values, and whether the data was cut short.
fn in_words(text: &str) -> String {
    let phrases: Vec<&str> =
        text.split(": ").take_while(|part| part.contains(' ') && !part.contains(['{', '('])).collect();
    let mut out = if phrases.is_empty() { "the data is corrupt".to_string() } else { phrases.join(": ") };
    if text.contains("UnexpectedEof") || text.contains("fill whole buffer") {
        out.push_str(" (the data is cut short)");
    }
    match out.get(..1) {
        Some(first) => first.to_lowercase() + &out[1..],
        None => out,
    }
}

/// Why a codec gave up.
enum Broken {
    /// More than the limit would come out.
    TooBig,
    /// Bytes that are not the codec's, in words.
    Because(String),
}

impl From<String> for Broken {
    fn from(why: String) -> Broken {
        Broken::Because(why)
    }
}

impl From<std::io::Error> for Broken {
    fn from(e: std::io::Error) -> Broken {
        Broken::Because(e.to_string())
    }
}

/// Reads all of `reader` into a vector, stopping one byte past `limit` (the caller refuses
/// that); the vector grows with what really comes out, never with what a header claims.
fn read_bounded(reader: impl std::io::Read, limit: usize) -> Result<Vec<u8>, Broken> {
    use std::io::Read;
    let mut out = Vec::new();
    reader.take(limit as u64 + 1).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests;
