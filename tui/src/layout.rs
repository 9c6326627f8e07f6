//! Screen geometry, as pure functions of the terminal size.
//!
//! Both `update` (to know which area to encode a picture for, or where a click landed) and
//! rendering compute areas here, so they always agree.

use ratatui::layout::{Constraint, Layout, Margin, Rect};

/// Lines each post takes in the list.
pub const ROW_HEIGHT: u16 = 2;
/// Below this width the list goes above the detail pane instead of beside it.
pub const NARROW_WIDTH: u16 = 80;

/// Areas of the feed screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedLayout {
    /// Tab bar.
    pub tabs: Rect,
    /// The list with its border.
    pub list_block: Rect,
    /// The rows of the list.
    pub list: Rect,
    /// Detail pane with its border.
    pub detail_block: Rect,
    /// The picture, when the post has one and there is room.
    pub picture: Option<Rect>,
    /// Title, labels and body.
    pub text: Rect,
    /// Status line.
    pub status: Rect,
    /// Key hints.
    pub hints: Rect,
}

/// Splits off the tab/header line, the status line and the hint line.
pub fn chrome(size: Rect) -> (Rect, Rect, Rect, Rect) {
    let [top, main, status, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(size);
    (top, main, status, hints)
}

/// The feed screen for a terminal of `size`; `has_picture` reserves room for a picture.
pub fn feed(size: Rect, has_picture: bool) -> FeedLayout {
    let (tabs, main, status, hints) = chrome(size);
    let (list_block, detail_block) = if size.width >= NARROW_WIDTH {
        let [l, d] =
            Layout::horizontal([Constraint::Percentage(42), Constraint::Min(0)]).areas(main);
        (l, d)
    } else {
        let [l, d] = Layout::vertical([Constraint::Percentage(45), Constraint::Min(0)]).areas(main);
        (l, d)
    };
    let list = list_block.inner(Margin::new(1, 1));
    let inner = detail_block.inner(Margin::new(1, 1));
    let (picture, text) = if has_picture && inner.height >= 8 && inner.width >= 10 {
        let pic_h = inner.height * 11 / 20;
        let [p, _gap, t] = Layout::vertical([
            Constraint::Length(pic_h),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(inner);
        (Some(p), t)
    } else {
        (None, inner)
    };
    FeedLayout {
        tabs,
        list_block,
        list,
        detail_block,
        picture,
        text,
        status,
        hints,
    }
}

/// How many posts fit in the list.
pub fn visible_rows(size: Rect) -> usize {
    (feed(size, false).list.height / ROW_HEIGHT).max(1) as usize
}

/// Areas of the compose screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComposeLayout {
    /// Header line.
    pub header: Rect,
    /// Title editor with border.
    pub title: Rect,
    /// Body editor with border.
    pub body: Rect,
    /// Attachment path editor with border.
    pub path: Rect,
    /// Completion candidates under the path.
    pub completions: Rect,
    /// Preview pane with border.
    pub side: Rect,
    /// The preview picture inside the side pane.
    pub preview: Rect,
    /// Lines about the file under the preview.
    pub info: Rect,
    /// Upload progress gauge.
    pub progress: Rect,
    /// Status line.
    pub status: Rect,
    /// Key hints.
    pub hints: Rect,
}

/// The compose screen; `completion_rows` is how many candidates are listed.
pub fn compose(size: Rect, completion_rows: u16) -> ComposeLayout {
    let (header, main, status, hints) = chrome(size);
    let (editor, side) = if size.width >= NARROW_WIDTH {
        let [e, s] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Min(0)]).areas(main);
        (e, s)
    } else {
        let [e, s] = Layout::vertical([Constraint::Min(9), Constraint::Length(7)]).areas(main);
        (e, s)
    };
    let [title, body, path, completions] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(3),
        Constraint::Length(3),
        Constraint::Length(completion_rows.min(4)),
    ])
    .areas(editor);
    let side_inner = side.inner(Margin::new(1, 1));
    let [preview, info, progress] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(2),
        Constraint::Length(2),
    ])
    .areas(side_inner);
    ComposeLayout {
        header,
        title,
        body,
        path,
        completions,
        side,
        preview,
        info,
        progress,
        status,
        hints,
    }
}

/// A `width` × `height` box centred in `area` (clipped to it).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_and_narrow_feed() {
        let wide = feed(Rect::new(0, 0, 160, 50), true);
        assert_eq!(wide.list_block.y, wide.detail_block.y);
        assert!(wide.picture.is_some());
        let narrow = feed(Rect::new(0, 0, 60, 20), true);
        assert!(narrow.detail_block.y > narrow.list_block.y);
        assert_eq!(visible_rows(Rect::new(0, 0, 120, 40)), 17);
    }

    #[test]
    fn tiny_terminals_do_not_panic() {
        for (w, h) in [(0, 0), (1, 1), (5, 3), (20, 4)] {
            let r = Rect::new(0, 0, w, h);
            let _ = feed(r, true);
            let _ = compose(r, 4);
            let _ = centered(r, 50, 10);
        }
    }
}
