//! The `[folders]` section: folders left out, renamed, and the substitute for a hierarchy
//! separator the destination does not accept.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::lines::ConfigError;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFolders {
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    rename: Vec<RawRename>,
    #[serde(default)]
    separator_substitute: Option<char>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRename {
    from: Spanned<String>,
    to: String,
}

#[derive(Debug, Clone, Default)]
pub struct FolderRules {
    pub exclude: Vec<regex::Regex>,
    pub rename: Vec<(regex::Regex, String)>,
    pub separator_substitute: char,
}

/// The folder rules of `[folders]`: every regular expression compiled, or an error at the one
/// that is not valid.
pub(super) fn folder_rules(
    path: &Path,
    text: &str,
    raw: &RawFolders,
) -> Result<FolderRules, ConfigError> {
    let mut folders = FolderRules {
        separator_substitute: raw.separator_substitute.unwrap_or('_'),
        ..Default::default()
    };
    let re = |s: &Spanned<String>, key: &str| {
        regex::Regex::new(s.get_ref()).map_err(|e| {
            ConfigError::at(
                path,
                text,
                s.span().start,
                format!("{key}: not a valid regular expression: {e}"),
            )
        })
    };
    for e in &raw.exclude {
        folders.exclude.push(re(e, "folders.exclude")?);
    }
    for r in &raw.rename {
        folders
            .rename
            .push((re(&r.from, "folders.rename.from")?, r.to.clone()));
    }
    Ok(folders)
}
