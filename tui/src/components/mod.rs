//! Reusable widgets: text input, status and hint bars, help overlay, prompt, confirmation,
//! cached picture.

pub mod confirm;
pub mod help;
pub mod input;
pub mod picture;
pub mod prompt;
pub mod status;
