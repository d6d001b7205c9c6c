//! Credentials: exactly one of a literal password, an environment variable or a file, each
//! one line. A secret file (`password_file`, `PasswordFile`, `client_secret_file`) is only a
//! small regular file named directly. A symbolic link is refused (it could point at
//! `/etc/shadow`, whose whole text would then be sent as a password), so is a device
//! (`/dev/zero` never ends), a FIFO (opened non-blocking, so nothing waits for a writer) and
//! anything over [`MAX_SECRET_FILE`] bytes.

use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::warnings::load_warning;

/// The largest secret file read (a password or client secret is one short line).
pub const MAX_SECRET_FILE: u64 = 64 * 1024;

/// The secret in `path`, one trailing line break removed, and whether the file is readable
/// by group or others. The error says what is wrong with the file (without its contents).
fn read_secret_file(path: &Path) -> Result<(String, bool), String> {
    let shown = path.display();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => format!(
                "{shown} is a symbolic link; name the file itself (a link could point at any file on this machine)"
            ),
            _ => format!("cannot read {shown}: {e}"),
        })?;
    // What was opened, not what the path names now.
    let md = file
        .metadata()
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !md.is_file() {
        let what = {
            use std::os::unix::fs::FileTypeExt;
            let t = md.file_type();
            if t.is_dir() {
                "a directory"
            } else if t.is_fifo() {
                "a FIFO"
            } else if t.is_char_device() || t.is_block_device() {
                "a device"
            } else if t.is_socket() {
                "a socket"
            } else {
                "not a regular file"
            }
        };
        return Err(format!(
            "{shown} is {what}; a password file must be a small regular file"
        ));
    }
    let too_big = || {
        format!(
            "{shown} is larger than {} KiB; a password file holds one line",
            MAX_SECRET_FILE / 1024
        )
    };
    if md.len() > MAX_SECRET_FILE {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_SECRET_FILE {
        return Err(too_big());
    }
    let text = String::from_utf8(bytes).map_err(|_| format!("{shown} is not UTF-8 text"))?;
    let secret = text
        .strip_suffix('\n')
        .map(|s| s.strip_suffix('\r').unwrap_or(s))
        .unwrap_or(&text);
    check_one_line(secret).map_err(|why| {
        format!("{shown}: {why} (only one line break, at the end of the file, is allowed)")
    })?;
    Ok((secret.to_string(), md.permissions().mode() & 0o077 != 0))
}

/// A secret is sent on one protocol line: a line break or NUL in it is refused.
fn check_one_line(secret: &str) -> Result<(), String> {
    if secret.contains(['\r', '\n']) {
        Err("a password cannot contain a line break".into())
    } else if secret.contains('\0') {
        Err("a password cannot contain a NUL character".into())
    } else {
        Ok(())
    }
}

/// Which of a credential's keys (or CSV columns) an error is about, to locate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SecretKey {
    Literal,
    Env,
    File,
}

#[derive(Debug)]
pub(super) struct SecretError {
    pub(super) key: Option<SecretKey>,
    pub(super) message: String,
}

/// A mailbox's password, or nothing when its endpoint logs in with OAuth2 tokens and none
/// is given.
pub(super) fn secret_unless_token(
    tokens: bool,
    literal: Option<&str>,
    env: Option<&str>,
    file: Option<&str>,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<SecretString, SecretError> {
    if tokens && literal.is_none() && env.is_none() && file.is_none() {
        return Ok(SecretString::from(String::new()));
    }
    secret(literal, env, file, resolve)
}

/// Exactly one of a literal password, an environment variable or a file (see
/// [`read_secret_file`]); one line, no line break inside.
pub(super) fn secret(
    literal: Option<&str>,
    env: Option<&str>,
    file: Option<&str>,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<SecretString, SecretError> {
    let at = |key, message: String| SecretError {
        key: Some(key),
        message,
    };
    match (literal, env, file) {
        (Some(p), None, None) => {
            check_one_line(p).map_err(|m| at(SecretKey::Literal, format!("password: {m}")))?;
            Ok(SecretString::from(p.to_string()))
        }
        (None, Some(var), None) => {
            let v = std::env::var(var).map_err(|_| {
                at(
                    SecretKey::Env,
                    format!("password_env: environment variable {var} is not set"),
                )
            })?;
            check_one_line(&v)
                .map_err(|m| at(SecretKey::Env, format!("password_env: {var}: {m}")))?;
            Ok(SecretString::from(v))
        }
        (None, None, Some(f)) => {
            let p = resolve(f);
            let (s, loose) = read_secret_file(&p)
                .map_err(|m| at(SecretKey::File, format!("password_file: {m}")))?;
            if loose {
                load_warning(format!(
                    "password file {} is readable by group or others; chmod 600 it",
                    p.display()
                ));
            }
            Ok(SecretString::from(s))
        }
        (None, None, None) => Err(SecretError {
            key: None,
            message: "expected one of password, password_env or password_file".into(),
        }),
        _ => Err(SecretError {
            key: None,
            message: "give only one of password, password_env or password_file".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_regular_files_only() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pw");
        std::fs::write(&p, "s3cret\r\n").unwrap();
        assert_eq!(read_secret_file(&p).unwrap().0, "s3cret");
        std::fs::write(&p, "s3cret").unwrap();
        assert_eq!(read_secret_file(&p).unwrap().0, "s3cret");
        std::fs::write(&p, "one\ntwo\n").unwrap();
        let e = read_secret_file(&p).unwrap_err();
        assert!(e.contains("line break"), "{e}");
        std::fs::write(&p, "s3cret\n\n").unwrap();
        assert!(read_secret_file(&p).is_err());
        std::fs::write(&p, vec![b'x'; MAX_SECRET_FILE as usize + 1]).unwrap();
        let e = read_secret_file(&p).unwrap_err();
        assert!(e.contains("larger than 64 KiB"), "{e}");

        let link = d.path().join("link");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        let e = read_secret_file(&link).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        let e = read_secret_file(Path::new("/dev/zero")).unwrap_err();
        assert!(e.contains("a device"), "{e}");
        let e = read_secret_file(d.path()).unwrap_err();
        assert!(e.contains("a directory"), "{e}");
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fifo");
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = read_secret_file(&p).unwrap_err();
        assert!(e.contains("a FIFO"), "{e}");
    }
}
