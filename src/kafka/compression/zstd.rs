//! zstd frames (RFC 8878), as Kafka 2.1+ stores them (KIP-110). Written at ruzstd's fastest
//! level (about zstd's level 1); read frame after frame, skippable frames skipped.

use std::io::Read;

use ruzstd::decoding::StreamingDecoder;
use ruzstd::encoding::CompressionLevel;

use super::Broken;

/// The largest window a frame may ask the decoder to keep: the 8 MiB every decoder is
/// recommended to support (RFC 8878, 3.1.1.1.2); Kafka's clients use 2 MiB or less.
pub const MAX_WINDOW: u64 = 8 << 20;

const MAGIC: u32 = 0xFD2F_B528;

pub fn compress(input: &[u8], out: &mut Vec<u8>) {
    ruzstd::encoding::compress(input, out, CompressionLevel::Fastest);
}

pub fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, Broken> {
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let Some(magic) = rest.first_chunk::<4>().map(|m| u32::from_le_bytes(*m)) else {
            return Err(format!("{} bytes after the last frame", rest.len()).into());
        };
        if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
            // A skippable frame: magic, 4-byte length, that many bytes of user data.
            let len = rest.get(4..8).map_or(usize::MAX, |l| u32::from_le_bytes(l.try_into().expect("4")) as usize);
            let Some(after) = len.checked_add(8).and_then(|end| rest.get(end..)) else {
                return Err(Broken::Because("a skippable frame is cut short".into()));
            };
            rest = after;
            continue;
        }
        if magic != MAGIC {
            return Err(format!("frame magic {magic:#010x} is not zstd's").into());
        }
        let left = limit - out.len();
        let mut decoder =
            StreamingDecoder::new_with_max_window_size(&mut rest, MAX_WINDOW).map_err(|e| e.to_string())?;
        (&mut decoder).take(left as u64 + 1).read_to_end(&mut out)?;
        if out.len() > limit {
            break; // the caller refuses it
        }
    }
    Ok(out)
}
