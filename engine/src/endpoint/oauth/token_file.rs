//! The token file next to the journal where the device-code flow keeps its refresh tokens
//! (one per side, app and mailbox or "*"), written atomically and readable by the owner only.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::types::random_id;

/// The file next to the state journal where delegated refresh tokens are kept
/// (`state.sqlite` -> `state.sqlite.oauth-tokens.json`, mode 0600).
pub fn token_file_for(state_path: &Path) -> PathBuf {
    let mut name = state_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "state".into());
    name.push(".oauth-tokens.json");
    state_path.with_file_name(name)
}

/// The account a delegated refresh token belongs to in the token file: the mailbox given to
/// `cutover login --user`, or "*" for one sign-in that serves every mailbox of the side.
pub(super) fn refresh_key(side: &str, client_id: &str, user: Option<&str>) -> String {
    format!(
        "{side}|{client_id}|{}",
        user.map(|u| u.to_ascii_lowercase())
            .unwrap_or_else(|| "*".into())
    )
}

/// Serialises writers of token files within this process (source and destination share one).
pub(super) static TOKEN_FILE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[derive(serde::Serialize, Deserialize, Default)]
pub(super) struct TokenFile {
    #[serde(default)]
    pub(super) refresh_tokens: std::collections::BTreeMap<String, String>,
}

pub(super) fn read_token_file(path: &Path) -> std::io::Result<TokenFile> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not a cutover token file: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
        Err(e) => Err(e),
    }
}

/// Journal one refresh token (re-reading the file first, so that entries written meanwhile
/// are kept), atomically and readable by the owner only.
pub(super) fn store_refresh_token(path: &Path, key: &str, token: &str) -> std::io::Result<()> {
    let _guard = TOKEN_FILE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = read_token_file(path)?;
    file.refresh_tokens
        .insert(key.to_string(), token.to_string());
    let body = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
    // An unpredictable temporary name, created exclusively and never through a link: a
    // name planted in advance (a symbolic link to elsewhere) makes the write fail, not go
    // there.
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(format!(".{}.tmp", random_id()));
    let tmp = path.with_file_name(tmp_name);
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        let written = f.write_all(&body).and_then(|()| f.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_sits_next_to_the_journal() {
        assert_eq!(
            token_file_for(Path::new("/p/state.sqlite")),
            PathBuf::from("/p/state.sqlite.oauth-tokens.json")
        );
    }

    #[test]
    fn refresh_keys_separate_sides_and_users() {
        assert_eq!(
            refresh_key("destination", "app", Some("Ann@X.com")),
            "destination|app|ann@x.com"
        );
        assert_eq!(refresh_key("source", "app", None), "source|app|*");
    }

    #[cfg(unix)]
    #[test]
    fn the_token_file_is_private_and_keeps_other_entries() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        store_refresh_token(&p, "a", "1").unwrap();
        store_refresh_token(&p, "b", "2").unwrap();
        store_refresh_token(&p, "a", "3").unwrap();
        let f = read_token_file(&p).unwrap();
        assert_eq!(f.refresh_tokens["a"], "3");
        assert_eq!(f.refresh_tokens["b"], "2");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // The temporaries were renamed away, each under its own unpredictable name.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("t.json")]);
        // The old fixed name (`t.tmp<pid>`), planted as a link, is not followed.
        let planted = dir.path().join(format!("t.tmp{}", std::process::id()));
        let victim = dir.path().join("victim");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        store_refresh_token(&p, "c", "4").unwrap();
        assert!(!victim.exists());
        assert_eq!(read_token_file(&p).unwrap().refresh_tokens["c"], "4");
    }
}
