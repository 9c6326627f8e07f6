//! JPEG completeness check.
//!
//! The JPEG decoder fills a truncated picture with grey instead of failing, so
//! a cut-off upload would be labelled as if it were whole. This walks the
//! marker segments and the entropy-coded scans and reports whether the
//! end-of-image marker is reached.

/// True when `data` (a JPEG starting with SOI) reaches its EOI marker.
///
/// Trailing bytes after EOI are allowed (some cameras append data). Data that
/// is not structured like a JPEG at all returns `true`: the decoder judges it.
pub fn is_complete(data: &[u8]) -> bool {
    if data.len() < 2 || data[0] != 0xFF || data[1] != 0xD8 {
        return true;
    }
    let mut i = 2;
    loop {
        // Expect a marker, possibly preceded by 0xFF fill bytes.
        if i + 1 >= data.len() {
            return false;
        }
        if data[i] != 0xFF {
            return true; // not a marker where one must be: corrupt, not truncated
        }
        while i + 1 < data.len() && data[i + 1] == 0xFF {
            i += 1;
        }
        if i + 1 >= data.len() {
            return false;
        }
        let marker = data[i + 1];
        i += 2;
        match marker {
            0xD9 => return true,
            0x01 | 0xD0..=0xD7 => continue,
            _ => {
                if i + 2 > data.len() {
                    return false;
                }
                let len = usize::from(u16::from_be_bytes([data[i], data[i + 1]]));
                i += len;
                if i > data.len() {
                    return false;
                }
                if marker == 0xDA {
                    // Entropy-coded data: runs until a marker other than stuffing/RSTn.
                    loop {
                        if i + 1 >= data.len() {
                            return false;
                        }
                        if data[i] == 0xFF {
                            match data[i + 1] {
                                0x00 | 0xD0..=0xD7 => i += 2,
                                0xFF => i += 1,
                                _ => break,
                            }
                        } else {
                            i += 1;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_complete;

    fn tiny_jpeg() -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8]; // SOI
        v.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x04, 0xAB, 0xCD]); // APP0, 2 bytes payload
        v.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x03, 0x01]); // SOS, 1 byte header
        v.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]); // scan with stuffing + RST0
        v.extend_from_slice(&[0xFF, 0xD9]); // EOI
        v
    }

    #[test]
    fn complete_and_truncated() {
        let j = tiny_jpeg();
        assert!(is_complete(&j));
        let mut trailing = j.clone();
        trailing.extend_from_slice(b"trailing camera data");
        assert!(is_complete(&trailing));
        for cut in 2..j.len() {
            assert!(!is_complete(&j[..cut]), "cut at {cut}");
        }
    }

    #[test]
    fn not_a_jpeg_is_left_to_the_decoder() {
        assert!(is_complete(b"\x89PNG\r\n\x1a\n...."));
    }
}
