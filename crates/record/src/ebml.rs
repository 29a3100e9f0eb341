//! The EBML encoding Matroska and WebM are made of (RFC 8794): an element is its ID, its
//! size as a variable-length integer, then its data. Only writing, and only what a WebM
//! recording needs.

/// "Unknown size" (all size bits set, 8 bytes long): an element whose end is not known
/// when it is started. A recording's Segment starts that way, so a file cut short by a
/// crash is still a valid stream up to its last whole cluster.
pub const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

/// Element IDs used here (Matroska specification, RFC 9559).
pub mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const EBML_VERSION: u32 = 0x4286;
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const DURATION: u32 = 0x4489;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const FLAG_LACING: u32 = 0x9C;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const SEEK_PRE_ROLL: u32 = 0x56BB;
    pub const VIDEO: u32 = 0xE0;
    pub const PIXEL_WIDTH: u32 = 0xB0;
    pub const PIXEL_HEIGHT: u32 = 0xBA;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMESTAMP: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const VOID: u32 = 0xEC;
}

/// Appends an element ID (its bytes as they are: IDs carry their own length marker).
pub fn put_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(3);
    out.extend_from_slice(&bytes[skip..]);
}

/// Appends `size` as the shortest EBML variable-length integer (up to 8 bytes).
pub fn put_size(out: &mut Vec<u8>, size: u64) {
    // A length of n bytes holds 7n bits; all ones is reserved for "unknown".
    let len = (1..=8u32)
        .find(|n| size < (1u64 << (7 * n)) - 1)
        .expect("sizes in a recording are far below 2^56");
    let marked = size | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[8 - len as usize..]);
}

/// Appends a whole element with `data`.
pub fn put_element(out: &mut Vec<u8>, id: u32, data: &[u8]) {
    put_id(out, id);
    put_size(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// Appends an unsigned integer element in as few bytes as it needs (at least one).
pub fn put_uint(out: &mut Vec<u8>, id: u32, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    put_element(out, id, &bytes[skip..]);
}

/// Appends an 8-byte float element.
pub fn put_float(out: &mut Vec<u8>, id: u32, value: f64) {
    put_element(out, id, &value.to_be_bytes());
}

/// Appends a string element.
pub fn put_str(out: &mut Vec<u8>, id: u32, value: &str) {
    put_element(out, id, value.as_bytes());
}

/// Appends a master element whose children `fill` writes.
pub fn put_master(out: &mut Vec<u8>, id: u32, fill: impl FnOnce(&mut Vec<u8>)) {
    let mut children = Vec::new();
    fill(&mut children);
    put_element(out, id, &children);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_the_shortest_form_and_never_the_reserved_one() {
        let size = |n| {
            let mut out = Vec::new();
            put_size(&mut out, n);
            out
        };
        assert_eq!(size(0), [0x80]);
        assert_eq!(size(126), [0xFE]);
        assert_eq!(size(127), [0x40, 0x7F], "0xFF would mean unknown");
        assert_eq!(size(300), [0x41, 0x2C]);
        assert_eq!(size(1 << 20), [0x30, 0x00, 0x00]);
        assert_eq!(size(1 << 21), [0x10, 0x20, 0x00, 0x00]);
    }

    #[test]
    fn ids_keep_their_own_length_and_uints_are_minimal() {
        let mut out = Vec::new();
        put_id(&mut out, id::SEGMENT);
        put_id(&mut out, id::TRACK_NUMBER);
        assert_eq!(out, [0x18, 0x53, 0x80, 0x67, 0xD7]);
        let mut out = Vec::new();
        put_uint(&mut out, id::TRACK_NUMBER, 0);
        put_uint(&mut out, id::TIMESTAMP_SCALE, 1_000_000);
        assert_eq!(
            out,
            [0xD7, 0x81, 0x00, 0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40]
        );
    }
}
