//! The picture types Postagram accepts, recognised by name and by their bytes.

/// An accepted picture type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    /// `image/jpeg`
    Jpeg,
    /// `image/png`
    Png,
    /// `image/webp`
    Webp,
    /// `image/gif`
    Gif,
}

/// Content types accepted for uploads, as a sentence for error messages.
pub const ACCEPTED: &str = "image/jpeg, image/png, image/webp, image/gif";

impl ImageType {
    /// Parses a `Content-Type` value (parameters and case ignored; `image/jpg` accepted).
    pub fn from_content_type(value: &str) -> Option<Self> {
        let essence = value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        Some(match essence.as_str() {
            "image/jpeg" | "image/jpg" | "image/pjpeg" => ImageType::Jpeg,
            "image/png" => ImageType::Png,
            "image/webp" => ImageType::Webp,
            "image/gif" => ImageType::Gif,
            _ => return None,
        })
    }

    /// Recognises a picture by its first bytes (magic numbers).
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageType::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageType::Png)
        } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageType::Webp)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(ImageType::Gif)
        } else {
            None
        }
    }

    /// The canonical MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            ImageType::Jpeg => "image/jpeg",
            ImageType::Png => "image/png",
            ImageType::Webp => "image/webp",
            ImageType::Gif => "image/gif",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            ImageType::from_content_type("image/JPEG; charset=x"),
            Some(ImageType::Jpeg)
        );
        assert_eq!(
            ImageType::from_content_type("image/jpg"),
            Some(ImageType::Jpeg)
        );
        assert_eq!(ImageType::from_content_type("text/plain"), None);
        assert_eq!(ImageType::from_content_type("image/svg+xml"), None);
    }

    #[test]
    fn sniffing() {
        assert_eq!(
            ImageType::sniff(b"\x89PNG\r\n\x1a\nrest"),
            Some(ImageType::Png)
        );
        assert_eq!(
            ImageType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageType::Jpeg)
        );
        assert_eq!(
            ImageType::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageType::Webp)
        );
        assert_eq!(ImageType::sniff(b"GIF89a..."), Some(ImageType::Gif));
        assert_eq!(ImageType::sniff(b"hello world"), None);
        assert_eq!(ImageType::sniff(b""), None);
    }
}
