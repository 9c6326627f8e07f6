//! A picture from the cache drawn into an area, or a placeholder while it is prepared.
//!
//! Shared by the feed's detail pane and the compose screen's preview; it only draws what
//! [`crate::picture::PictureCache`] already holds (decoding and encoding happen elsewhere).

use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;
use ratatui_image::Image;

use crate::picture::{PictureCache, Source};

/// Draws a cached picture into `area`, or a placeholder while it is being prepared.
pub fn render(frame: &mut Frame, pictures: &PictureCache, key: &str, area: Rect) {
    if let Some(p) = pictures.encoded(key, area) {
        frame.render_widget(Image::new(p), area);
        return;
    }
    let msg = match pictures.source(key) {
        Some(Source::Failed(e)) => Span::styled(e.clone(), Style::default().fg(Color::Red)),
        _ => Span::styled("loading picture…", Style::default().fg(Color::DarkGray)),
    };
    let y = area.y + area.height / 2;
    frame.render_widget(
        Paragraph::new(Line::from(msg))
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        Rect::new(area.x, y, area.width, area.height - (y - area.y)),
    );
}
