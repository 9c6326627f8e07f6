//! Terminal setup and restoration (also on panic).

use std::cell::Cell;
use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

/// The terminal the client draws on.
pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Switches to raw mode and the alternate screen, captures the mouse and bracketed paste,
/// and installs a panic hook that restores the terminal before the panic message prints.
pub fn init() -> io::Result<Term> {
    install_panic_hook();
    enable_raw_mode()?;
    let mut stdout = io::stdout();
    if let Err(e) = execute!(
        stdout,
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste
    ) {
        let _ = restore();
        return Err(e);
    }
    let mut terminal = Terminal::new(CrosstermBackend::new(stdout))?;
    terminal.hide_cursor()?;
    terminal.clear()?;
    Ok(terminal)
}

/// Leaves the alternate screen and raw mode, releases the mouse, shows the cursor.
/// Safe to call more than once.
pub fn restore() -> io::Result<()> {
    let mut stdout = io::stdout();
    let screen = execute!(
        stdout,
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let raw = disable_raw_mode();
    screen.and(raw)
}

static PANICKED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Whether code outside [`guarded`] panicked; the event loop then stops (the terminal is
/// already restored by then).
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

/// Runs `f` (picture decoding or encoding of untrusted data) turning a panic into an error,
/// without restoring the terminal: the UI goes on and shows the error.
pub fn guarded<T>(f: impl FnOnce() -> T + std::panic::UnwindSafe) -> Result<T, String> {
    GUARDED.with(|g| g.set(true));
    let result = std::panic::catch_unwind(f);
    GUARDED.with(|g| g.set(false));
    result.map_err(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown error".into());
        format!("internal error: {msg}")
    })
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if GUARDED.with(|g| g.get()) {
            // Caught by `guarded`: becomes an error message in the UI.
            return;
        }
        let _ = restore();
        PANICKED.store(true, Ordering::SeqCst);
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_turns_panics_into_errors() {
        install_panic_hook();
        let r: Result<(), String> = guarded(|| panic!("bad picture"));
        assert_eq!(r, Err("internal error: bad picture".to_string()));
        assert!(!panicked(), "a caught panic does not stop the UI");
        assert_eq!(guarded(|| 7), Ok(7));
    }
}
