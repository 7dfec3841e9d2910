//! gzip, as the Java client writes it (`GZIPOutputStream`, default level); any number of
//! members read back.

use std::io::Write;

use super::Broken;

pub fn compress(input: &[u8], out: &mut Vec<u8>) {
    let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    // Writing to a vector cannot fail.
    let _ = encoder.write_all(input);
    let _ = encoder.finish();
}

pub fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, Broken> {
    super::read_bounded(flate2::read::MultiGzDecoder::new(input), limit)
}
