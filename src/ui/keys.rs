//! The keymap: one table that handles keys, fills the footer and the help overlay.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Checklist,
    Batches,
    Issues,
    Emergency,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Checklist, Tab::Batches, Tab::Issues, Tab::Emergency];
    pub fn title(self) -> &'static str {
        match self {
            Tab::Checklist => "Checklist",
            Tab::Batches => "Batches",
            Tab::Issues => "Issues",
            Tab::Emergency => "Emergency",
        }
    }
    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    NextTab,
    PrevTab,
    GoTab(usize),
    Up,
    Down,
    Enter,
    Back,
    Help,
    CommandLine,
    Filter,
    Quit,
    EmergencyStop,
    StartSelected,
    PauseSelected,
    StartAll,
    PauseAll,
    RetryMailbox,
    MoreParallel,
    LessParallel,
    ToggleCheck,
    EditNote,
    RunCheck,
    RunAllChecks,
    OverrideCheck,
    AckIssue,
    Rollback,
    Backup,
    ResolveIssue,
    EditLessons,
    EditRecommendations,
    DeltaPass,
    DeltaEvery,
    MeasureLag,
    Finalize,
    Redraw,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    In(Tab),
}

pub struct Binding {
    pub label: &'static str,
    pub code: KeyCode,
    pub mods: KeyModifiers,
    pub action: Action,
    pub desc: &'static str,
    pub scope: Scope,
    /// Shown in the footer (the keys that matter most); all are in the help.
    pub footer: bool,
}

const fn b(
    label: &'static str,
    code: KeyCode,
    mods: KeyModifiers,
    action: Action,
    desc: &'static str,
    scope: Scope,
    footer: bool,
) -> Binding {
    Binding {
        label,
        code,
        mods,
        action,
        desc,
        scope,
        footer,
    }
}

const N: KeyModifiers = KeyModifiers::NONE;
const S: KeyModifiers = KeyModifiers::SHIFT;
const C: KeyModifiers = KeyModifiers::CONTROL;
use Scope::{Global as G, In};

pub static KEYMAP: &[Binding] = &[
    b(
        "S",
        KeyCode::Char('S'),
        S,
        Action::EmergencyStop,
        "emergency stop: halt all writes (asks once)",
        G,
        true,
    ),
    b(
        "s",
        KeyCode::Char('s'),
        N,
        Action::StartSelected,
        "start / resume the selected batch or mailbox",
        In(Tab::Batches),
        true,
    ),
    b(
        "p",
        KeyCode::Char('p'),
        N,
        Action::PauseSelected,
        "pause the selected batch or mailbox (graceful)",
        In(Tab::Batches),
        true,
    ),
    b(
        "A",
        KeyCode::Char('A'),
        S,
        Action::StartAll,
        "start / resume every batch",
        In(Tab::Batches),
        false,
    ),
    b(
        "P",
        KeyCode::Char('P'),
        S,
        Action::PauseAll,
        "pause every batch (graceful)",
        G,
        false,
    ),
    b(
        "r",
        KeyCode::Char('r'),
        N,
        Action::RetryMailbox,
        "retry the selected mailbox",
        In(Tab::Batches),
        false,
    ),
    b(
        "+",
        KeyCode::Char('+'),
        N,
        Action::MoreParallel,
        "one more mailbox of the selected batch at once",
        In(Tab::Batches),
        false,
    ),
    b(
        "-",
        KeyCode::Char('-'),
        N,
        Action::LessParallel,
        "one mailbox fewer of the selected batch at once",
        In(Tab::Batches),
        false,
    ),
    b(
        "d",
        KeyCode::Char('d'),
        N,
        Action::DeltaPass,
        "delta pass of the selected batch now: mirror what users did on the source",
        In(Tab::Batches),
        true,
    ),
    b(
        "D",
        KeyCode::Char('D'),
        S,
        Action::DeltaEvery,
        "delta passes of the selected batch every N minutes (asks N), or stop them",
        In(Tab::Batches),
        false,
    ),
    b(
        "l",
        KeyCode::Char('l'),
        N,
        Action::MeasureLag,
        "measure the selected batch's lag: one look per source folder, nothing read or written",
        In(Tab::Batches),
        false,
    ),
    b(
        "F",
        KeyCode::Char('F'),
        S,
        Action::Finalize,
        "finalize the selected batch: DNS check, switch, final pass, verify (type its name to confirm)",
        In(Tab::Batches),
        false,
    ),
    b(
        "space",
        KeyCode::Char(' '),
        N,
        Action::ToggleCheck,
        "tick / untick the item",
        In(Tab::Checklist),
        true,
    ),
    b(
        "n",
        KeyCode::Char('n'),
        N,
        Action::EditNote,
        "edit the item's note",
        In(Tab::Checklist),
        true,
    ),
    b(
        "c",
        KeyCode::Char('c'),
        N,
        Action::RunCheck,
        "run the selected auto check",
        In(Tab::Checklist),
        true,
    ),
    b(
        "C",
        KeyCode::Char('C'),
        S,
        Action::RunAllChecks,
        "run every auto check (logs in to every mailbox)",
        In(Tab::Checklist),
        false,
    ),
    b(
        "o",
        KeyCode::Char('o'),
        N,
        Action::OverrideCheck,
        "override the unmet item (asks for a reason; journalled)",
        In(Tab::Checklist),
        true,
    ),
    b(
        "a",
        KeyCode::Char('a'),
        N,
        Action::AckIssue,
        "acknowledge the issue",
        In(Tab::Issues),
        true,
    ),
    b(
        "r",
        KeyCode::Char('r'),
        N,
        Action::ResolveIssue,
        "resolve the issue with a note",
        In(Tab::Issues),
        true,
    ),
    b(
        "L",
        KeyCode::Char('L'),
        S,
        Action::EditLessons,
        "write the reports' lessons learned (pre-filled with cutover's suggestions; ctrl-s saves)",
        In(Tab::Issues),
        false,
    ),
    b(
        "M",
        KeyCode::Char('M'),
        S,
        Action::EditRecommendations,
        "write the reports' recommendations (pre-filled with cutover's suggestions; ctrl-s saves)",
        In(Tab::Issues),
        false,
    ),
    b(
        "p",
        KeyCode::Char('p'),
        N,
        Action::PauseAll,
        "pause every batch (graceful)",
        In(Tab::Emergency),
        true,
    ),
    b(
        "R",
        KeyCode::Char('R'),
        S,
        Action::Rollback,
        "roll back the selected batch: remove what cutover wrote (type its name to confirm)",
        In(Tab::Emergency),
        true,
    ),
    b(
        "b",
        KeyCode::Char('b'),
        N,
        Action::Backup,
        "back up the selected batch's source and verify it, in the background",
        In(Tab::Emergency),
        false,
    ),
    b(
        "enter",
        KeyCode::Enter,
        N,
        Action::Enter,
        "drill down / jump to the mailbox",
        G,
        true,
    ),
    b("esc", KeyCode::Esc, N, Action::Back, "back", G, true),
    b(
        "/",
        KeyCode::Char('/'),
        N,
        Action::Filter,
        "filter this list",
        G,
        true,
    ),
    b(
        ":",
        KeyCode::Char(':'),
        N,
        Action::CommandLine,
        "command line (:start, :pause, :stop, :q ...)",
        G,
        false,
    ),
    b(
        "tab",
        KeyCode::Tab,
        N,
        Action::NextTab,
        "next tab",
        G,
        false,
    ),
    b(
        "shift-tab",
        KeyCode::BackTab,
        S,
        Action::PrevTab,
        "previous tab",
        G,
        false,
    ),
    b(
        "1",
        KeyCode::Char('1'),
        N,
        Action::GoTab(0),
        "Checklist tab",
        G,
        false,
    ),
    b(
        "2",
        KeyCode::Char('2'),
        N,
        Action::GoTab(1),
        "Batches tab",
        G,
        false,
    ),
    b(
        "3",
        KeyCode::Char('3'),
        N,
        Action::GoTab(2),
        "Issues tab",
        G,
        false,
    ),
    b(
        "4",
        KeyCode::Char('4'),
        N,
        Action::GoTab(3),
        "Emergency tab",
        G,
        false,
    ),
    b(
        "j/down",
        KeyCode::Char('j'),
        N,
        Action::Down,
        "down",
        G,
        false,
    ),
    b("k/up", KeyCode::Char('k'), N, Action::Up, "up", G, false),
    b("", KeyCode::Down, N, Action::Down, "", G, false),
    b("", KeyCode::Up, N, Action::Up, "", G, false),
    b(
        "?",
        KeyCode::Char('?'),
        N,
        Action::Help,
        "this help",
        G,
        true,
    ),
    b(
        "ctrl-l",
        KeyCode::Char('l'),
        C,
        Action::Redraw,
        "redraw the screen",
        G,
        false,
    ),
    b(
        "q",
        KeyCode::Char('q'),
        N,
        Action::Quit,
        "quit (asks while work runs)",
        G,
        true,
    ),
    b(
        "ctrl-c",
        KeyCode::Char('c'),
        C,
        Action::Quit,
        "same as q: never quits silently while work runs",
        G,
        false,
    ),
];

/// The action for a key in a tab, if any. Tab-specific bindings win over global ones.
pub fn action_for(key: &KeyEvent, tab: Tab) -> Option<Action> {
    let matches = |bd: &&Binding| {
        bd.code == key.code
            && (bd.mods == key.modifiers
                // Shifted characters arrive with or without SHIFT depending on the terminal.
                || (matches!(bd.code, KeyCode::Char(_)) && bd.mods == S && key.modifiers == N)
                || (matches!(bd.code, KeyCode::Char(c) if !c.is_ascii_alphabetic())
                    && key.modifiers == S))
    };
    KEYMAP
        .iter()
        .filter(matches)
        .find(|bd| bd.scope == Scope::In(tab))
        .or_else(|| {
            KEYMAP
                .iter()
                .filter(matches)
                .find(|bd| bd.scope == Scope::Global)
        })
        .map(|bd| bd.action)
}

/// Footer entries for a tab: tab keys first, then the global ones.
pub fn footer(tab: Tab) -> Vec<(&'static str, &'static str)> {
    let mut v: Vec<(&str, &str)> = KEYMAP
        .iter()
        .filter(|b| b.footer && b.scope == Scope::In(tab))
        .map(|b| (b.label, short(b.desc)))
        .collect();
    v.extend(
        KEYMAP
            .iter()
            .filter(|b| b.footer && b.scope == Scope::Global)
            .map(|b| (b.label, short(b.desc))),
    );
    v
}

/// The footer's word for an action.
fn short(desc: &'static str) -> &'static str {
    match desc.split([':', '(', '/']).next().unwrap_or(desc).trim() {
        "start" => "start",
        "pause the selected batch or mailbox" => "pause",
        "emergency stop" => "EMERGENCY STOP",
        "drill down" => "open",
        "filter this list" => "filter",
        "this help" => "help",
        "tick" => "tick",
        "edit the item's note" => "note",
        "run the selected auto check" => "check",
        "override the unmet item" => "override",
        "acknowledge the issue" => "ack",
        "resolve the issue with a note" => "resolve",
        "pause every batch" => "pause all",
        "quit" => "quit",
        "roll back the selected batch" => "rollback",
        "delta pass of the selected batch now" => "delta pass",
        "finalize the selected batch" => "finalize",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_bindings_win_and_shift_is_tolerated() {
        let k = |c| KeyEvent::new(KeyCode::Char(c), N);
        assert_eq!(
            action_for(&k('p'), Tab::Batches),
            Some(Action::PauseSelected)
        );
        assert_eq!(action_for(&k('p'), Tab::Emergency), Some(Action::PauseAll));
        assert_eq!(
            action_for(&k('S'), Tab::Issues),
            Some(Action::EmergencyStop)
        );
        assert_eq!(
            action_for(&KeyEvent::new(KeyCode::Char('S'), S), Tab::Checklist),
            Some(Action::EmergencyStop)
        );
        assert_eq!(
            action_for(&KeyEvent::new(KeyCode::Char('z'), C), Tab::Batches),
            None
        );
    }

    #[test]
    fn no_key_is_bound_twice_in_one_scope() {
        for (i, a) in KEYMAP.iter().enumerate() {
            for bb in &KEYMAP[i + 1..] {
                assert!(
                    !(a.code == bb.code && a.mods == bb.mods && a.scope == bb.scope),
                    "{} bound twice in {:?}",
                    a.label,
                    a.scope
                );
            }
        }
    }

    #[test]
    fn footer_is_generated_from_the_keymap() {
        let f = footer(Tab::Batches);
        assert!(f.iter().any(|(k, _)| *k == "s"));
        assert!(
            f.iter()
                .any(|(k, d)| *k == "S" && d.to_lowercase().contains("emergency stop"))
        );
        assert!(f.iter().any(|(k, _)| *k == "q"));
    }
}
