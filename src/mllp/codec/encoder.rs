//! [`MllpCodec`]'s `Encoder` impls: wrap a payload in `<VT>payload<FS><CR>`, refusing one
//! that contains FS.

use bytes::{BufMut, Bytes, BytesMut};
use tokio_util::codec::Encoder;

use super::{CodecError, MllpCodec};
use crate::mllp::{CARRIAGE_RETURN, END_BLOCK, START_BLOCK};

impl Encoder<&[u8]> for MllpCodec {
    type Error = CodecError;

    fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), CodecError> {
        // An FS inside the payload would end the frame early at the receiver; refuse it here,
        // where the caller can still tell which message was at fault.
        if let Some(offset) = memchr::memchr(END_BLOCK, payload) {
            return Err(CodecError::EndBlockInPayload { offset });
        }
        // One reservation, three copies: the frame goes out in a single write.
        dst.reserve(payload.len() + 3);
        dst.put_u8(START_BLOCK);
        dst.extend_from_slice(payload);
        dst.put_u8(END_BLOCK);
        dst.put_u8(CARRIAGE_RETURN);
        Ok(())
    }
}

impl Encoder<Bytes> for MllpCodec {
    type Error = CodecError;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode(&payload[..], dst)
    }
}
