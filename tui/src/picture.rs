//! Pictures: decoding and resizing off the render path, and a small cache.
//!
//! A picture goes through two background steps, each a [`crate::action::Effect`] run on a
//! blocking tokio thread: the bytes are decoded and shrunk ([`decode`]), then encoded for the
//! terminal's graphics protocol at the exact cell area it is shown in ([`encode`]). Rendering
//! only draws a ready [`Protocol`]; until then it shows a placeholder.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use image::DynamicImage;
use ratatui::layout::Rect;
use ratatui_image::picker::Picker;
use ratatui_image::protocol::Protocol;
use ratatui_image::Resize;

/// Longest side kept after decoding: enough for any pane, small in memory.
pub const MAX_DECODED_SIDE: u32 = 768;
/// Decoded pictures kept.
const MAX_SOURCES: usize = 8;
/// Encoded pictures kept.
const MAX_ENCODED: usize = 12;

/// A decoded picture and facts about its file.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The picture, shrunk to at most [`MAX_DECODED_SIDE`].
    pub image: Arc<DynamicImage>,
    /// Original width × height in pixels.
    pub original: (u32, u32),
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// Where a wanted picture comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A presigned GET URL (a post's picture).
    Url(String),
    /// A local file (the attachment preview).
    File(std::path::PathBuf),
}

/// A picture a screen shows now: the app loads it into the cache, then encodes it for
/// `area` (when there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Cache key.
    pub key: String,
    /// Where to get it.
    pub origin: Origin,
    /// The cell area it is drawn in; `None` when there is no room (loaded, not encoded).
    pub area: Option<Rect>,
}

/// Where a picture stands in the cache.
#[derive(Clone)]
pub enum Source {
    /// Being downloaded or read and decoded.
    Loading,
    /// Decoded.
    Ready(Decoded),
    /// Could not be had; the sentence says why.
    Failed(String),
}

/// Decoded and encoded pictures, keyed by post id (`POST#…`) or `file:<path>` for previews.
#[derive(Default)]
pub struct PictureCache {
    sources: HashMap<String, Source>,
    source_order: VecDeque<String>,
    encoded: HashMap<String, (Rect, Protocol)>,
    encoded_order: VecDeque<String>,
    encoding: HashMap<String, Rect>,
}

impl std::fmt::Debug for PictureCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PictureCache")
            .field("sources", &self.sources.len())
            .field("encoded", &self.encoded.len())
            .finish()
    }
}

fn touch(order: &mut VecDeque<String>, key: &str) {
    if let Some(pos) = order.iter().position(|k| k == key) {
        order.remove(pos);
    }
    order.push_back(key.to_string());
}

impl PictureCache {
    /// The state of a picture, if it was ever asked for.
    pub fn source(&self, key: &str) -> Option<&Source> {
        self.sources.get(key)
    }

    /// Marks a picture as being loaded.
    pub fn set_loading(&mut self, key: &str) {
        self.sources.insert(key.to_string(), Source::Loading);
        touch(&mut self.source_order, key);
        self.evict();
    }

    /// Stores the outcome of loading a picture.
    pub fn set_source(&mut self, key: &str, result: Result<Decoded, String>) {
        let src = match result {
            Ok(d) => Source::Ready(d),
            Err(e) => Source::Failed(e),
        };
        self.sources.insert(key.to_string(), src);
        // A new source invalidates what was encoded from an older one.
        self.encoded.remove(key);
        touch(&mut self.source_order, key);
        self.evict();
    }

    /// Forgets a picture (the post was deleted, or the file changed).
    pub fn forget(&mut self, key: &str) {
        self.sources.remove(key);
        self.encoded.remove(key);
        self.encoding.remove(key);
    }

    /// The encoded picture for `key` if it was encoded for exactly `area`'s size.
    pub fn encoded(&self, key: &str, area: Rect) -> Option<&Protocol> {
        self.encoded
            .get(key)
            .filter(|(a, _)| a.width == area.width && a.height == area.height)
            .map(|(_, p)| p)
    }

    /// Whether an encoding of `key` for `area`'s size is under way.
    pub fn is_encoding(&self, key: &str, area: Rect) -> bool {
        self.encoding
            .get(key)
            .is_some_and(|a| a.width == area.width && a.height == area.height)
    }

    /// Records that an encoding for `area` started.
    pub fn set_encoding(&mut self, key: &str, area: Rect) {
        self.encoding.insert(key.to_string(), area);
    }

    /// Stores an encoded picture (or drops the mark when encoding failed).
    pub fn set_encoded(&mut self, key: &str, area: Rect, result: Result<Protocol, String>) {
        if self.encoding.get(key) == Some(&area) {
            self.encoding.remove(key);
        }
        match result {
            Ok(p) => {
                self.encoded.insert(key.to_string(), (area, p));
                touch(&mut self.encoded_order, key);
            }
            Err(e) => {
                self.sources.insert(key.to_string(), Source::Failed(e));
            }
        }
        self.evict();
    }

    /// Number of decoded and encoded entries (for tests).
    pub fn len(&self) -> (usize, usize) {
        (self.sources.len(), self.encoded.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty() && self.encoded.is_empty()
    }

    fn evict(&mut self) {
        while self.source_order.len() > MAX_SOURCES {
            if let Some(old) = self.source_order.pop_front() {
                // Keep pictures still loading: their result would come back to nothing.
                if matches!(self.sources.get(&old), Some(Source::Loading)) {
                    self.source_order.push_back(old);
                    break;
                }
                self.sources.remove(&old);
            }
        }
        while self.encoded_order.len() > MAX_ENCODED {
            if let Some(old) = self.encoded_order.pop_front() {
                self.encoded.remove(&old);
            }
        }
    }
}

/// Decodes picture bytes and shrinks them to at most [`MAX_DECODED_SIDE`]. Blocking: run it on
/// a blocking thread.
pub fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read the picture: {e}"))?;
    let image = reader
        .decode()
        .map_err(|e| format!("cannot decode the picture: {e}"))?;
    let original = (image.width(), image.height());
    let image = if original.0 > MAX_DECODED_SIDE || original.1 > MAX_DECODED_SIDE {
        image.thumbnail(MAX_DECODED_SIDE, MAX_DECODED_SIDE)
    } else {
        image
    };
    Ok(Decoded {
        image: Arc::new(image),
        original,
        bytes: bytes.len() as u64,
    })
}

/// Encodes a decoded picture for the terminal, scaled to fit `area` (small pictures are
/// enlarged, keeping their proportions). Blocking.
pub fn encode(picker: &Picker, image: &DynamicImage, area: Rect) -> Result<Protocol, String> {
    picker
        .new_protocol(image.clone(), area, Resize::Scale(None))
        .map_err(|e| format!("cannot show the picture: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 128]));
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn decodes_and_shrinks() {
        let d = decode(&png(2000, 500)).unwrap();
        assert_eq!(d.original, (2000, 500));
        assert!(d.image.width() <= MAX_DECODED_SIDE);
        assert!(decode(b"not a picture").is_err());
    }

    #[test]
    fn encodes_half_blocks_for_an_area() {
        let d = decode(&png(64, 64)).unwrap();
        let area = Rect::new(0, 0, 20, 10);
        let p = encode(&Picker::halfblocks(), &d.image, area).unwrap();
        let mut cache = PictureCache::default();
        cache.set_source("k", Ok(d));
        cache.set_encoding("k", area);
        assert!(cache.is_encoding("k", area));
        cache.set_encoded("k", area, Ok(p));
        assert!(cache.encoded("k", area).is_some());
        assert!(cache.encoded("k", Rect::new(0, 0, 21, 10)).is_none());
    }

    #[test]
    fn cache_is_bounded() {
        let mut cache = PictureCache::default();
        let d = decode(&png(4, 4)).unwrap();
        for i in 0..50 {
            cache.set_source(&format!("k{i}"), Ok(d.clone()));
        }
        assert!(cache.len().0 <= MAX_SOURCES);
    }
}
