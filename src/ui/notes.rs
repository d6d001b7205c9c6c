//! The editor of the reports' lessons learned and recommendations (Issues tab, `L` and `M`):
//! a multi-line tui-textarea pre-filled with the note as journalled, or, when none is written,
//! with cutover's suggestions from the journal (each line marked `suggestion: `). Enter starts
//! a new line, Ctrl-S saves through the engine ([`Command::SetReportNote`], journalled with the
//! operator and the time; the lines saved are the operator's, their `suggestion: ` mark
//! dropped), Esc leaves without saving. The app holds the editor as a modal and hands it the
//! keys; this module knows only the snapshot and the textarea.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Clear};
use tui_textarea::TextArea;

use cutover_engine::api::{Command, NoteSection, Snapshot};

use super::theme::Theme;

/// The mark of a pre-filled suggestion line.
pub const SUGGESTION: &str = "suggestion: ";

/// The editor of a section, pre-filled.
pub fn editor(snap: &Snapshot, section: NoteSection) -> Box<TextArea<'static>> {
    let view = snap.notes.iter().find(|n| n.section == section);
    let lines: Vec<String> = match view {
        Some(v) if v.text.is_some() => v
            .text
            .as_deref()
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect(),
        Some(v) => v
            .suggestions
            .lines()
            .map(|l| format!("{SUGGESTION}{l}"))
            .collect(),
        None => Vec::new(),
    };
    let mut t = TextArea::new(lines);
    t.set_placeholder_text(format!("{}: one item a line", section.title()));
    Box::new(t)
}

/// What a key did in the editor: close it?, what to say, what to send.
pub struct Keyed {
    pub close: bool,
    pub toast: Option<String>,
    pub command: Option<Command>,
}

/// A key while the editor is open.
pub fn key(
    t: &mut TextArea<'static>,
    section: NoteSection,
    key: KeyEvent,
    operator: &str,
) -> Keyed {
    let title = section.title();
    match key.code {
        KeyCode::Esc => Keyed {
            close: true,
            toast: Some(format!("{title} not saved")),
            command: None,
        },
        KeyCode::Char('s') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            let text = adopted(&t.lines().join("\n"));
            if text.is_empty() {
                return Keyed {
                    close: false,
                    toast: Some(format!("{title}: nothing to save")),
                    command: None,
                };
            }
            Keyed {
                close: true,
                toast: Some(format!(
                    "{title} saved: the weekly and final reports show it"
                )),
                command: Some(Command::SetReportNote {
                    section,
                    text,
                    operator: operator.to_string(),
                }),
            }
        }
        _ => {
            t.input(key);
            Keyed {
                close: false,
                toast: None,
                command: None,
            }
        }
    }
}

/// The note as the operator saves it: trimmed lines, blank ones dropped, the suggestion mark
/// of the lines kept removed (they are now the operator's).
pub fn adopted(text: &str) -> String {
    text.lines()
        .map(|l| l.trim())
        .map(|l| l.strip_prefix(SUGGESTION).unwrap_or(l))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The editor in `r` (the caller centres it over the screen).
pub fn draw(
    f: &mut Frame,
    r: Rect,
    theme: &Theme,
    snap: &Snapshot,
    section: NoteSection,
    t: &TextArea<'static>,
) {
    let written = snap
        .notes
        .iter()
        .find(|n| n.section == section)
        .and_then(|n| {
            Some(format!(
                "written by {} at {}",
                n.by.as_deref()?,
                n.at.as_deref()?
            ))
        })
        .unwrap_or_else(|| "not written yet: cutover's suggestions, keep or edit them".into());
    f.render_widget(Clear, r);
    let mut ta = t.clone();
    ta.set_block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border())
            .title(format!(" {} ({written}) ", section.title()))
            .title_bottom(" ctrl-s save · esc cancel · enter new line "),
    );
    f.render_widget(&ta, r);
}
