//! snappy in the framing the Java client writes (snappy-java's `SnappyOutputStream`: a 16-byte
//! header, then blocks of at most 32 KiB of input, each with its big-endian length), or one
//! raw snappy block, as some other clients write.

/// snappy-java's header: magic, version 1, compatible version 1.
use super::Broken;

const XERIAL: &[u8; 16] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";
const BLOCK: usize = 32 * 1024;
/// A 3-byte copy yields at most 64 bytes: no real block inflates more than 22 times.
const MAX_RATIO: usize = 22;

pub fn compress(input: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(XERIAL);
    let mut encoder = snap::raw::Encoder::new();
    for chunk in input.chunks(BLOCK) {
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        out.resize(at + 4 + snap::raw::max_compress_len(chunk.len()), 0);
        // The room is max_compress_len, and a chunk is far below snappy's 4 GiB input limit.
        let n = encoder.compress(chunk, &mut out[at + 4..]).unwrap_or(0);
        out.truncate(at + 4 + n);
        out[at..at + 4].copy_from_slice(&(n as u32).to_be_bytes());
    }
}

pub fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, Broken> {
    let mut out = Vec::new();
    if input.len() >= 16 && input[..8] == XERIAL[..8] {
        let mut rest = &input[16..];
        while !rest.is_empty() {
            let Some((len, tail)) = rest.split_first_chunk::<4>() else {
                return Err(Broken::Because("block length cut short".into()));
            };
            let len = u32::from_be_bytes(*len) as usize;
            if len > tail.len() {
                return Err(format!("block of {len} bytes where {} remain", tail.len()).into());
            }
            let (block, tail) = tail.split_at(len);
            inflate_block(block, &mut out, limit)?;
            rest = tail;
        }
    } else {
        inflate_block(input, &mut out, limit)?;
    }
    Ok(out)
}

/// One raw block, refused before inflating when it declares more than it can hold or more
/// than the limit allows.
fn inflate_block(block: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Broken> {
    let n = snap::raw::decompress_len(block).map_err(|e| Broken::Because(e.to_string()))?;
    if n > block.len().saturating_mul(MAX_RATIO) {
        return Err(format!("a block of {} bytes cannot inflate to the {n} it declares", block.len()).into());
    }
    if out.len() + n > limit {
        return Err(Broken::TooBig);
    }
    let start = out.len();
    out.resize(start + n, 0);
    snap::raw::Decoder::new().decompress(block, &mut out[start..]).map_err(|e| Broken::Because(e.to_string()))?;
    Ok(())
}
