//! Labels attached to a picture by a detector.

use serde::{Deserialize, Serialize};

/// One label with its confidence on Rekognition's 0–100 scale.
///
/// Detectors emit both fine classes ("golden retriever") and their broader
/// categories ("dog", "animal") as separate labels, so a search for a category
/// finds every picture of its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Label {
    /// Lower-case human name, e.g. `"golden retriever"` or `"dog"`.
    pub name: String,
    /// Confidence in percent, 0–100.
    pub confidence: f32,
}

/// Where a post's picture is in the labelling flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum LabelStatus {
    /// No picture uploaded yet.
    #[default]
    None,
    /// A picture was uploaded and waits for a labeler.
    Pending,
    /// Labels are written.
    Done,
    /// The picture could not be labelled (not an image, truncated, too large…).
    Failed,
}

impl LabelStatus {
    /// The stable string stored in databases and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelStatus::None => "none",
            LabelStatus::Pending => "pending",
            LabelStatus::Done => "done",
            LabelStatus::Failed => "failed",
        }
    }

    /// Parses the stored string form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => LabelStatus::None,
            "pending" => LabelStatus::Pending,
            "done" => LabelStatus::Done,
            "failed" => LabelStatus::Failed,
            _ => return None,
        })
    }
}
