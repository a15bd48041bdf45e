//! A zlib stream that lives as long as the connection: each rectangle's data ends with a sync
//! flush, so the client can decode it while the dictionary carries over to the next.

use super::super::error::RfbError;
use flate2::{Compress, Compression, FlushCompress};

#[derive(Debug)]
pub struct Stream(Compress);

impl Stream {
    pub fn new(level: u32) -> Self {
        Stream(Compress::new(Compression::new(level), true))
    }

    /// Compresses all of `input` onto the end of `out`, ending with a sync flush.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), RfbError> {
        let start = self.0.total_in();
        loop {
            out.reserve(input.len() / 2 + 256);
            let taken = (self.0.total_in() - start) as usize;
            self.0
                .compress_vec(&input[taken..], out, FlushCompress::Sync)
                .map_err(|e| RfbError::Zlib(e.to_string()))?;
            let taken = (self.0.total_in() - start) as usize;
            // The flush is complete once all input is in and the output did not fill up.
            if taken == input.len() && out.len() < out.capacity() {
                return Ok(());
            }
        }
    }
}
