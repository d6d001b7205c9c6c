//! The drawing helpers every tab shares: numbers, bytes, rates and durations as the console
//! writes them, a state's symbol, word and style, a titled block, the throughput chart, a
//! table's selection.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline, TableState};

use super::app::App;
/// Bytes and clock figures as every front end prints them (the engine's one formatter).
pub use cutover_engine::api::figures::{bytes, hms};
use cutover_engine::api::{BatchState, MailboxState, Throughput};

pub fn num(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn rate(tp: &Throughput) -> String {
    let (m, b) = tp.rate(5);
    format!("{m:.0} msg/s {}/s", bytes(b as u64))
}

/// How a state looks: a symbol beside its word (never colour alone), and a style.
pub(crate) trait StateLook: Copy {
    fn word(self) -> &'static str;
    fn symbol(self) -> &'static str;
    fn tone(self) -> Tone;
}

/// The theme role a state is drawn in.
pub(crate) enum Tone {
    Ok,
    Accent,
    Error,
    Warn,
    Muted,
}

impl StateLook for MailboxState {
    fn word(self) -> &'static str {
        self.as_str()
    }

    fn symbol(self) -> &'static str {
        match self {
            MailboxState::Done => "✔",
            MailboxState::Running => "▶",
            MailboxState::Paused => "‖",
            MailboxState::Failed => "✖",
            MailboxState::Stopped => "■",
            MailboxState::Interrupted => "!",
            MailboxState::New | MailboxState::RollingBack | MailboxState::RolledBack => "·",
        }
    }

    fn tone(self) -> Tone {
        match self {
            MailboxState::Done => Tone::Ok,
            MailboxState::Running => Tone::Accent,
            MailboxState::Failed | MailboxState::Stopped => Tone::Error,
            MailboxState::Paused | MailboxState::Interrupted => Tone::Warn,
            MailboxState::New | MailboxState::RollingBack | MailboxState::RolledBack => Tone::Muted,
        }
    }
}

impl StateLook for BatchState {
    fn word(self) -> &'static str {
        self.as_str()
    }

    fn symbol(self) -> &'static str {
        match self {
            BatchState::Done => "✔",
            BatchState::Running => "▶",
            BatchState::Pausing | BatchState::Paused => "‖",
            BatchState::Failed => "✖",
            BatchState::Stopped => "■",
            BatchState::NotStarted => "·",
        }
    }

    fn tone(self) -> Tone {
        match self {
            BatchState::Done => Tone::Ok,
            BatchState::Running | BatchState::Pausing => Tone::Accent,
            BatchState::Failed | BatchState::Stopped => Tone::Error,
            BatchState::Paused => Tone::Warn,
            BatchState::NotStarted => Tone::Muted,
        }
    }
}

pub(crate) fn state_style(app: &App, state: impl StateLook) -> Style {
    let t = &app.theme;
    match state.tone() {
        Tone::Ok => t.ok(),
        Tone::Accent => t.accent(),
        Tone::Error => t.error(),
        Tone::Warn => t.warn(),
        Tone::Muted => t.muted(),
    }
}

/// A state as a symbol and a word (never colour alone).
pub(crate) fn state_word(state: impl StateLook) -> String {
    format!("{} {}", state.symbol(), state.word())
}

pub(crate) fn block<'a>(app: &App, title: impl Into<std::borrow::Cow<'a, str>>) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border())
        .title(Span::styled(title, app.theme.title()))
}

pub(crate) fn spark_data(tp: &Throughput, width: u16) -> Vec<u64> {
    let n = width as usize;
    let v: Vec<u64> = tp.samples.iter().map(|(m, _)| *m).collect();
    let start = v.len().saturating_sub(n);
    v[start..].to_vec()
}

pub(crate) fn draw_throughput(f: &mut Frame, app: &App, area: Rect, tp: &Throughput, title: &str) {
    let s = &app.snap;
    let t = &app.theme;
    let b = block(app, title);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let [info, chart] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    let mut spans = vec![
        Span::styled("last 5 s ", t.muted()),
        Span::styled(rate(tp), t.accent()),
        Span::styled("   connections ", t.muted()),
        Span::raw(format!(
            "source {}/{}  destination {}/{}",
            s.connections.src_in_use,
            s.connections.src_max,
            s.connections.dst_in_use,
            s.connections.dst_max
        )),
    ];
    // Compressed links: protocol bytes per byte on the wire, measured.
    let ratios: Vec<String> = [
        ("source", s.connections.src_wire),
        ("destination", s.connections.dst_wire),
    ]
    .iter()
    .filter_map(|(side, w)| {
        w.filter(|w| w.compressed_sessions > 0)
            .map(|w| format!("{side} {:.1}x", w.ratio()))
    })
    .collect();
    if !ratios.is_empty() {
        spans.push(Span::styled("   compressed ", t.muted()));
        spans.push(Span::raw(ratios.join("  ")));
    }
    if s.parallel > 0 {
        spans.push(Span::styled("   mailboxes at once ", t.muted()));
        spans.push(Span::raw(s.parallel.to_string()));
    }
    if !s.throttled.is_empty() {
        spans.push(Span::styled(" ⚠ throttled", t.badge(t.warn())));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), info);
    let data = spark_data(tp, chart.width);
    f.render_widget(
        Sparkline::default()
            .data(&data)
            .style(t.gauge())
            .max(data.iter().copied().max().unwrap_or(1).max(1)),
        chart,
    );
}

pub(crate) fn table_state(sel: usize) -> TableState {
    TableState::default().with_selected(Some(sel))
}
