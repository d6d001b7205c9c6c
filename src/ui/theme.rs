//! Themes: semantic roles read from `themes/*.toml` (built into the binary), or from a file
//! given by path. A theme may name a `parent` and override only some roles.

use std::collections::HashMap;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

const BUILT_IN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("mono", include_str!("../../themes/mono.toml")),
];

pub const ROLES: &[&str] = &[
    "base",
    "muted",
    "title",
    "accent",
    "ok",
    "warn",
    "error",
    "danger",
    "border",
    "gauge",
    "selection_fg",
    "selection_bg",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    colors: HashMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Theme {
    pub name: String,
    colors: HashMap<String, Color>,
    /// No colour at all: meaning by modifiers, words and symbols.
    pub mono: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("theme {name}: {message}")]
pub struct ThemeError {
    pub name: String,
    pub message: String,
}

pub fn built_in_names() -> Vec<&'static str> {
    BUILT_IN.iter().map(|(n, _)| *n).collect()
}

fn parse_color(s: &str) -> Option<Color> {
    Color::from_str(s).ok()
}

impl Theme {
    /// A built-in theme by name, or a theme file by path.
    pub fn load(name_or_path: &str) -> Result<Theme, ThemeError> {
        let err = |m: String| ThemeError {
            name: name_or_path.to_string(),
            message: m,
        };
        let text = match BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            Some((_, t)) => t.to_string(),
            None => std::fs::read_to_string(name_or_path).map_err(|e| {
                err(format!(
                    "not a built-in theme ({}) and not a readable file: {e}",
                    built_in_names().join(", ")
                ))
            })?,
        };
        Self::from_toml(&text, 0).map_err(err)
    }

    fn from_toml(text: &str, depth: usize) -> Result<Theme, String> {
        if depth > 4 {
            return Err("parent chain too deep".into());
        }
        let f: ThemeFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut theme = match &f.parent {
            Some(p) => Theme::load(p).map_err(|e| e.to_string())?,
            None => Theme {
                name: f.name.clone(),
                colors: HashMap::new(),
                mono: false,
            },
        };
        theme.name = f.name.clone();
        for (role, value) in &f.colors {
            if !ROLES.contains(&role.as_str()) {
                return Err(format!(
                    "unknown role {role:?}; roles are {}",
                    ROLES.join(", ")
                ));
            }
            let c = parse_color(value).ok_or_else(|| {
                format!("{role} = {value:?} is not a colour (an ANSI name or #rrggbb)")
            })?;
            theme.colors.insert(role.clone(), c);
        }
        theme.mono = theme.colors.values().all(|c| *c == Color::Reset);
        for r in ROLES {
            if !theme.colors.contains_key(*r) {
                return Err(format!("role {r} has no colour (set it or name a parent)"));
            }
        }
        Ok(theme)
    }

    pub fn mono() -> Theme {
        Theme::load("mono").expect("built-in mono theme")
    }

    fn c(&self, role: &str) -> Color {
        self.colors.get(role).copied().unwrap_or(Color::Reset)
    }

    pub fn base(&self) -> Style {
        Style::default().fg(self.c("base"))
    }
    pub fn muted(&self) -> Style {
        let s = Style::default().fg(self.c("muted"));
        if self.mono {
            s.add_modifier(Modifier::DIM)
        } else {
            s
        }
    }
    pub fn title(&self) -> Style {
        Style::default()
            .fg(self.c("title"))
            .add_modifier(Modifier::BOLD)
    }
    pub fn accent(&self) -> Style {
        Style::default().fg(self.c("accent"))
    }
    pub fn ok(&self) -> Style {
        Style::default().fg(self.c("ok"))
    }
    pub fn warn(&self) -> Style {
        Style::default().fg(self.c("warn"))
    }
    pub fn error(&self) -> Style {
        Style::default()
            .fg(self.c("error"))
            .add_modifier(Modifier::BOLD)
    }
    pub fn danger(&self) -> Style {
        Style::default()
            .fg(self.c("danger"))
            .add_modifier(Modifier::BOLD)
    }
    pub fn border(&self) -> Style {
        Style::default().fg(self.c("border"))
    }
    pub fn gauge(&self) -> Style {
        Style::default().fg(self.c("gauge"))
    }
    /// The selected row: reverse video always (survives NO_COLOR), colours when the theme has them.
    pub fn selection(&self) -> Style {
        let s = Style::default().add_modifier(Modifier::REVERSED);
        if self.mono {
            s
        } else {
            s.remove_modifier(Modifier::REVERSED)
                .fg(self.c("selection_fg"))
                .bg(self.c("selection_bg"))
                .add_modifier(Modifier::BOLD)
        }
    }
    /// A state badge: reverse video plus bold, so it stands out in every theme.
    pub fn badge(&self, style: Style) -> Style {
        style.add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_theme_resolves_every_role() {
        for n in built_in_names() {
            let t = Theme::load(n).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(t.name, n);
        }
        assert!(Theme::load("mono").unwrap().mono);
        assert!(!Theme::load("default").unwrap().mono);
    }

    #[test]
    fn a_child_overrides_its_parent() {
        let t = Theme::from_toml(
            "name = \"x\"\nparent = \"default\"\n[colors]\nok = \"#00ff00\"\n",
            0,
        )
        .unwrap();
        assert_eq!(t.c("ok"), Color::Rgb(0, 255, 0));
        assert_eq!(t.c("danger"), Color::Red);
    }

    #[test]
    fn bad_theme_files_say_what_is_wrong() {
        let e = Theme::from_toml("name = \"x\"\n[colors]\nbase = \"reset\"\n", 0).unwrap_err();
        assert!(e.contains("has no colour"), "{e}");
        let e = Theme::from_toml(
            "name = \"x\"\nparent = \"default\"\n[colors]\nfoo = \"red\"\n",
            0,
        )
        .unwrap_err();
        assert!(e.contains("unknown role"), "{e}");
        let e = Theme::from_toml(
            "name = \"x\"\nparent = \"default\"\n[colors]\nok = \"grenn\"\n",
            0,
        )
        .unwrap_err();
        assert!(e.contains("not a colour"), "{e}");
    }
}
