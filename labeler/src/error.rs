//! Errors a detector reports.

/// Why a picture could not be labelled.
///
/// The first three variants are the picture's fault (the job should be marked
/// `failed` and not retried); [`DetectError::Model`] is ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetectError {
    /// The bytes are not a picture in a supported format (JPEG, PNG, WebP, GIF), or are corrupt.
    #[error("not an image: {0}")]
    NotAnImage(String),
    /// The picture's data ends before the picture does.
    #[error("truncated image: {0}")]
    Truncated(String),
    /// The picture (file size, dimensions or decoded size) exceeds the limits.
    #[error("image too large: {0}")]
    TooLarge(String),
    /// The model could not be loaded or run.
    #[error("model error: {0}")]
    Model(String),
}

impl DetectError {
    /// True when the picture itself is at fault (not an image, truncated, too large).
    pub fn is_bad_picture(&self) -> bool {
        matches!(
            self,
            DetectError::NotAnImage(_) | DetectError::Truncated(_) | DetectError::TooLarge(_)
        )
    }
}

impl From<candle_core::Error> for DetectError {
    fn from(e: candle_core::Error) -> Self {
        DetectError::Model(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_picture_classification() {
        assert!(DetectError::NotAnImage("x".into()).is_bad_picture());
        assert!(DetectError::Truncated("x".into()).is_bad_picture());
        assert!(DetectError::TooLarge("x".into()).is_bad_picture());
        assert!(!DetectError::Model("x".into()).is_bad_picture());
    }
}
