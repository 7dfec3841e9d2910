//! lz4 in the LZ4 frame format, as Kafka's `KafkaLZ4BlockOutputStream` writes it for record
//! batches (magic 2 is past KIP-57, so the header checksum is the standard one): blocks of
//! 64 KiB, independent, no checksums. Frames with other block sizes, linked blocks or
//! checksums (librdkafka, the lz4 tool) are read too.

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

use super::Broken;

pub fn compress(input: &[u8], out: &mut Vec<u8>) {
    let info = FrameInfo::new().block_size(BlockSize::Max64KB).block_mode(BlockMode::Independent);
    let mut encoder = FrameEncoder::with_frame_info(info, out);
    // Writing to a vector cannot fail.
    let _ = std::io::Write::write_all(&mut encoder, input);
    let _ = encoder.finish();
}

pub fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, Broken> {
    // The decoder reserves one block (at most 4 MiB, as the frame's header says) at a time.
    super::read_bounded(FrameDecoder::new(input), limit)
}
