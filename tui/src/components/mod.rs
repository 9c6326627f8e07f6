//! Reusable widgets: text input, status and hint bars, help overlay, prompt, confirmation.

pub mod confirm;
pub mod help;
pub mod input;
pub mod prompt;
pub mod status;
