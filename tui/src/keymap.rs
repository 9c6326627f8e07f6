//! The ONE keymap: key handling, the hint bar and the help overlay all read [`KEYMAP`].

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies. Text-editing contexts only bind keys that do not type text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// Everywhere (checked after the screen's own bindings).
    Global,
    /// The feed: list and detail pane.
    Feed,
    /// The compose screen's editors.
    Compose,
    /// The sign-up / log-in screen.
    Login,
    /// A one-line prompt (user name, search).
    Prompt,
    /// A yes/no confirmation.
    Confirm,
    /// The help overlay.
    Help,
}

impl Context {
    /// Title of this context's section in the help overlay.
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Everywhere",
            Context::Feed => "Feed",
            Context::Compose => "New post",
            Context::Login => "Log in / sign up",
            Context::Prompt => "Prompt (user, search)",
            Context::Confirm => "Confirmation",
            Context::Help => "Help",
        }
    }
}

/// What a key asks for; the screens interpret it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Leave the program (asks nothing; drafts are not saved to disk).
    Quit,
    /// Show or hide the help overlay.
    Help,
    /// Close the overlay / leave the screen.
    Back,
    /// Select the previous post.
    Up,
    /// Select the next post.
    Down,
    /// One screen up.
    PageUp,
    /// One screen down.
    PageDown,
    /// First post.
    Top,
    /// Last loaded post (loads more when there are).
    Bottom,
    /// Next feed tab.
    NextTab,
    /// Previous feed tab.
    PrevTab,
    /// The "All" tab.
    TabAll,
    /// The "Mine" tab.
    TabMine,
    /// Posts of a user (asks for the name).
    ByUser,
    /// Search by text, or by label with `#label`.
    Search,
    /// Reload the current tab.
    Refresh,
    /// Compose a new post.
    NewPost,
    /// Delete the selected post (own posts only).
    Delete,
    /// Edit the selected post in the compose screen (own posts only).
    Edit,
    /// Open the picture with the system opener.
    OpenPicture,
    /// Scroll the detail pane up.
    DetailUp,
    /// Scroll the detail pane down.
    DetailDown,
    /// Log in, or log out when signed in.
    Account,
    /// Send the form.
    Submit,
    /// Next field.
    NextField,
    /// Previous field.
    PrevField,
    /// Complete the attachment path.
    Complete,
    /// Switch between logging in and signing up.
    ToggleMode,
    /// Answer yes.
    Yes,
    /// Answer no.
    No,
}

/// One key with its modifiers (Shift is ignored for characters and Shift-Tab).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Required modifiers besides Shift.
    pub mods: KeyModifiers,
}

const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
    }
}
const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}
const fn code(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

impl Key {
    /// Whether a terminal key event is this key.
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        let mods = ev.modifiers - KeyModifiers::SHIFT;
        let code_eq = match (self.code, ev.code) {
            (KeyCode::Char(a), KeyCode::Char(b)) if !self.mods.is_empty() => {
                a.eq_ignore_ascii_case(&b)
            }
            (a, b) => a == b,
        };
        code_eq && mods == self.mods
    }

    /// How the key is written in hints and help.
    pub fn name(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        if self.mods.contains(KeyModifiers::CONTROL) {
            format!("C-{base}")
        } else {
            base
        }
    }
}

/// One line of the keymap.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Where it applies.
    pub context: Context,
    /// The keys (any of them).
    pub keys: &'static [Key],
    /// What they do.
    pub command: Command,
    /// Short text for the hint bar.
    pub hint: &'static str,
    /// Sentence for the help overlay.
    pub help: &'static str,
    /// Whether the hint bar shows it.
    pub in_hint_bar: bool,
}

const fn b(
    context: Context,
    keys: &'static [Key],
    command: Command,
    hint: &'static str,
    help: &'static str,
    in_hint_bar: bool,
) -> Binding {
    Binding {
        context,
        keys,
        command,
        hint,
        help,
        in_hint_bar,
    }
}

use Command as C;
use Context as X;

/// Every key binding of the program.
pub static KEYMAP: &[Binding] = &[
    // Feed
    b(
        X::Feed,
        &[k('j'), code(KeyCode::Down)],
        C::Down,
        "next",
        "Select the next post",
        false,
    ),
    b(
        X::Feed,
        &[k('k'), code(KeyCode::Up)],
        C::Up,
        "previous",
        "Select the previous post",
        false,
    ),
    b(
        X::Feed,
        &[ctrl('d'), code(KeyCode::PageDown)],
        C::PageDown,
        "page down",
        "One page down",
        false,
    ),
    b(
        X::Feed,
        &[ctrl('u'), code(KeyCode::PageUp)],
        C::PageUp,
        "page up",
        "One page up",
        false,
    ),
    b(
        X::Feed,
        &[k('g'), code(KeyCode::Home)],
        C::Top,
        "top",
        "First post",
        false,
    ),
    b(
        X::Feed,
        &[k('G'), code(KeyCode::End)],
        C::Bottom,
        "bottom",
        "Last loaded post (more load as you go)",
        false,
    ),
    b(
        X::Feed,
        &[code(KeyCode::Tab), k('l'), code(KeyCode::Right)],
        C::NextTab,
        "tab",
        "Next tab",
        true,
    ),
    b(
        X::Feed,
        &[code(KeyCode::BackTab), k('h'), code(KeyCode::Left)],
        C::PrevTab,
        "prev tab",
        "Previous tab",
        false,
    ),
    b(X::Feed, &[k('1')], C::TabAll, "all", "All posts", false),
    b(
        X::Feed,
        &[k('2')],
        C::TabMine,
        "mine",
        "My posts (log in first)",
        false,
    ),
    b(
        X::Feed,
        &[k('u')],
        C::ByUser,
        "user",
        "Posts of a user",
        true,
    ),
    b(
        X::Feed,
        &[k('/')],
        C::Search,
        "search",
        "Search text and labels (#label: exact label)",
        true,
    ),
    b(
        X::Feed,
        &[k('r')],
        C::Refresh,
        "refresh",
        "Reload the tab",
        true,
    ),
    b(
        X::Feed,
        &[k('n')],
        C::NewPost,
        "new",
        "Write a new post",
        true,
    ),
    b(
        X::Feed,
        &[k('e')],
        C::Edit,
        "edit",
        "Edit the selected post's title and body (yours only)",
        true,
    ),
    b(
        X::Feed,
        &[k('d')],
        C::Delete,
        "delete",
        "Delete the selected post (yours only)",
        true,
    ),
    b(
        X::Feed,
        &[k('o')],
        C::OpenPicture,
        "open",
        "Open the picture with the system viewer",
        true,
    ),
    b(
        X::Feed,
        &[k('J')],
        C::DetailDown,
        "scroll",
        "Scroll the detail pane down",
        false,
    ),
    b(
        X::Feed,
        &[k('K')],
        C::DetailUp,
        "scroll up",
        "Scroll the detail pane up",
        false,
    ),
    b(
        X::Feed,
        &[k('L')],
        C::Account,
        "log in/out",
        "Log in, or log out when signed in",
        true,
    ),
    b(X::Feed, &[k('?')], C::Help, "help", "Show this help", true),
    b(X::Feed, &[k('q')], C::Quit, "quit", "Quit", true),
    // Compose
    b(
        X::Compose,
        &[ctrl('s')],
        C::Submit,
        "post / save",
        "Create the post (or save the edit) and upload the picture",
        true,
    ),
    b(
        X::Compose,
        &[code(KeyCode::Tab)],
        C::NextField,
        "next field / complete",
        "Next field; in the path field: complete the path",
        true,
    ),
    b(
        X::Compose,
        &[code(KeyCode::BackTab)],
        C::PrevField,
        "prev field",
        "Previous field",
        false,
    ),
    b(
        X::Compose,
        &[code(KeyCode::Esc)],
        C::Back,
        "back (draft kept)",
        "Back to the feed; the draft is kept",
        true,
    ),
    // Login
    b(
        X::Login,
        &[code(KeyCode::Enter)],
        C::Submit,
        "submit",
        "Log in or sign up",
        true,
    ),
    b(
        X::Login,
        &[code(KeyCode::Tab), code(KeyCode::Down)],
        C::NextField,
        "next field",
        "Next field",
        true,
    ),
    b(
        X::Login,
        &[code(KeyCode::BackTab), code(KeyCode::Up)],
        C::PrevField,
        "prev field",
        "Previous field",
        false,
    ),
    b(
        X::Login,
        &[ctrl('t')],
        C::ToggleMode,
        "log in ⇄ sign up",
        "Switch between logging in and signing up",
        true,
    ),
    b(
        X::Login,
        &[code(KeyCode::Esc)],
        C::Back,
        "back",
        "Back to the feed",
        true,
    ),
    // Prompt
    b(
        X::Prompt,
        &[code(KeyCode::Enter)],
        C::Submit,
        "go",
        "Apply",
        true,
    ),
    b(
        X::Prompt,
        &[code(KeyCode::Esc)],
        C::Back,
        "cancel",
        "Cancel",
        true,
    ),
    // Confirm
    b(
        X::Confirm,
        &[k('y'), code(KeyCode::Enter)],
        C::Yes,
        "yes",
        "Confirm",
        true,
    ),
    b(
        X::Confirm,
        &[k('n'), code(KeyCode::Esc)],
        C::No,
        "no",
        "Cancel",
        true,
    ),
    // Help
    b(
        X::Help,
        &[code(KeyCode::Esc), k('?'), k('q')],
        C::Back,
        "close",
        "Close the help",
        true,
    ),
    b(
        X::Help,
        &[k('j'), code(KeyCode::Down)],
        C::Down,
        "scroll",
        "Scroll the help down",
        true,
    ),
    b(
        X::Help,
        &[k('k'), code(KeyCode::Up)],
        C::Up,
        "scroll up",
        "Scroll the help up",
        false,
    ),
    // Everywhere
    b(
        X::Global,
        &[code(KeyCode::F(1))],
        C::Help,
        "help",
        "Help, also while typing",
        false,
    ),
    b(
        X::Global,
        &[ctrl('c')],
        C::Quit,
        "quit",
        "Quit at once",
        false,
    ),
];

/// The command a key means in `context` (its own bindings first, then global ones).
pub fn lookup(context: Context, ev: &KeyEvent) -> Option<Command> {
    let find = |ctx: Context| {
        KEYMAP
            .iter()
            .filter(|b| b.context == ctx)
            .find(|b| b.keys.iter().any(|key| key.matches(ev)))
            .map(|b| b.command)
    };
    find(context).or_else(|| find(Context::Global))
}

/// Written keys of a binding, e.g. `j/↓`.
pub fn keys_label(binding: &Binding) -> String {
    binding
        .keys
        .iter()
        .map(Key::name)
        .collect::<Vec<_>>()
        .join("/")
}

/// `(keys, hint)` pairs of the hint bar for `context`, keeping the commands `available` accepts.
pub fn hints(context: Context, available: impl Fn(Command) -> bool) -> Vec<(String, &'static str)> {
    KEYMAP
        .iter()
        .filter(|b| b.context == context && b.in_hint_bar && available(b.command))
        .map(|b| {
            // The hint bar names only the first key to stay short.
            let first = b.keys.first().map(Key::name).unwrap_or_default();
            (first, b.hint)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent {
            code,
            modifiers: mods,
            kind: KeyEventKind::Press,
            state: crossterm::event::KeyEventState::NONE,
        }
    }

    #[test]
    fn vim_keys_and_arrows() {
        let j = ev(KeyCode::Char('j'), KeyModifiers::NONE);
        let down = ev(KeyCode::Down, KeyModifiers::NONE);
        assert_eq!(lookup(Context::Feed, &j), Some(Command::Down));
        assert_eq!(lookup(Context::Feed, &down), Some(Command::Down));
        let g = ev(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(lookup(Context::Feed, &g), Some(Command::Bottom));
        let bt = ev(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(lookup(Context::Feed, &bt), Some(Command::PrevTab));
    }

    #[test]
    fn typing_contexts_do_not_steal_letters() {
        let q = ev(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(lookup(Context::Compose, &q), None);
        assert_eq!(lookup(Context::Login, &q), None);
        let cc = ev(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(lookup(Context::Compose, &cc), Some(Command::Quit));
    }

    #[test]
    fn no_key_is_bound_twice_in_a_context() {
        for a in KEYMAP {
            for b in KEYMAP {
                if std::ptr::eq(a, b) || a.context != b.context {
                    continue;
                }
                for ka in a.keys {
                    assert!(
                        !b.keys.contains(ka),
                        "{:?} bound twice in {:?}",
                        ka,
                        a.context
                    );
                }
            }
        }
    }
}
