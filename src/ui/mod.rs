//! The operator's console: a full-screen ratatui app over the engine's snapshots. It knows
//! nothing of IMAP, only the engine's contract (`cutover_engine::api`): commands go out
//! through [`Handle`], snapshots come in through a `watch`.
//!
//! [`app`] holds the state and turns keys ([`keys`]: the one keymap) into commands; [`draw`]
//! renders a frame, each tab by [`tabs`], with the helpers of [`widgets`]; [`filter`] is the
//! Issues filter; [`notes`] the editor of the reports' lessons and recommendations;
//! [`theme`] the colours.
//!
//! Terminal discipline: renders only when something changed, at most 10 frames per second,
//! inside synchronized-update markers; the panic hook (ratatui's) restores the terminal;
//! logs go to a file, never to the screen; mouse off; Ctrl-Z unbound.

pub mod app;
pub mod draw;
pub mod filter;
pub mod keys;
pub mod notes;
pub mod tabs;
pub mod theme;
pub mod widgets;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use ratatui::crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use ratatui::crossterm::{execute, terminal};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use app::{App, Effect};
use cutover_engine::api::{Command, Handle, Snapshot};
use theme::Theme;

/// How the console ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Quit,
    /// The operator detached: the engine goes on headless.
    Detached,
    /// The terminal went away (SIGHUP, SSH drop): every batch was paused gracefully.
    HungUp,
}

/// The theme to use: NO_COLOR wins (mono, keeping reverse video), then the choice given.
pub fn pick_theme(choice: Option<&str>) -> Result<Theme, theme::ThemeError> {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        // crossterm 0.29 writes an empty colour as ESC[;m, which terminals read as "reset
        // everything" and which would drop the selection's reverse video; a mono theme never
        // sets a colour, and re-enabling ANSI colour output keeps crossterm from emitting it.
        ratatui::crossterm::style::Colored::set_ansi_color_disabled(false);
        return Ok(Theme::mono());
    }
    Theme::load(choice.unwrap_or("default"))
}

pub async fn run(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    handle: Option<&Handle>,
    theme: Theme,
    operator: String,
) -> std::io::Result<Outcome> {
    let first = snapshots.borrow_and_update().clone();
    let mut app = App::new(first, theme, operator.clone());
    app.open_where_needed();
    let mut terminal = ratatui::try_init()?;
    let mut events = EventStream::new();
    let mut frame = tokio::time::interval(Duration::from_millis(100));
    frame.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut dirty = true;
    let mut outcome = Outcome::Quit;
    'main: loop {
        tokio::select! {
            biased;
            ev = events.next() => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => {
                    app.on_key(k);
                    dirty = true;
                }
                Some(Ok(TermEvent::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    // The terminal is gone.
                    outcome = Outcome::HungUp;
                    break 'main;
                }
            },
            _ = hup.recv() => {
                outcome = Outcome::HungUp;
                break 'main;
            }
            _ = term.recv() => {
                outcome = Outcome::HungUp;
                break 'main;
            }
            r = snapshots.changed() => {
                if r.is_err() {
                    break 'main;
                }
                let s = snapshots.borrow_and_update().clone();
                app.set_snapshot(s);
                dirty = true;
            }
            _ = frame.tick(), if dirty => {
                draw_synced(&mut terminal, &app)?;
                dirty = false;
            }
        }
        for e in app.take_effects() {
            match e {
                Effect::Send(c) => {
                    if let Some(h) = handle {
                        h.send(c);
                    }
                }
                Effect::EmergencyStop => {
                    if let Some(h) = handle {
                        h.emergency_stop(&operator);
                    }
                }
                Effect::Redraw => {
                    terminal.clear()?;
                    dirty = true;
                }
                Effect::Quit => break 'main,
                Effect::Detach => {
                    outcome = Outcome::Detached;
                    break 'main;
                }
            }
        }
        if app.should_quit {
            if app.detach {
                outcome = Outcome::Detached;
            }
            break;
        }
    }
    if outcome == Outcome::HungUp
        && let Some(h) = handle
    {
        // Nobody is watching any more: stop gracefully; the next start resumes.
        h.send(Command::Pause { batch: None });
        tracing::warn!("terminal gone (SIGHUP or closed): pausing every batch gracefully");
    }
    ratatui::restore();
    Ok(outcome)
}

fn draw_synced(terminal: &mut ratatui::DefaultTerminal, app: &App) -> std::io::Result<()> {
    execute!(std::io::stdout(), terminal::BeginSynchronizedUpdate)?;
    terminal.draw(|f| draw::draw(f, app))?;
    execute!(std::io::stdout(), terminal::EndSynchronizedUpdate)?;
    std::io::stdout().flush()
}
