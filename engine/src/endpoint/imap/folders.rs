//! Folders: LIST (names unquoted and decoded, bounded in count and memory), CREATE, RENAME
//! and DELETE, and the quoting of names in commands spoken by hand.

use async_imap::types::NameAttribute;
use futures::TryStreamExt;

use super::errors::map_err;
use super::session::ImapSession;
use crate::endpoint::bounded;
use crate::endpoint::net::with_timeout;
use crate::endpoint::types::{EndpointError, Folder, Result, SpecialUse};
use crate::mail::fmt::bytes_exact;
use crate::mail::utf7::decode_mutf7;

/// An IMAP string for a folder name: quoted, with `\` and `"` escaped.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The value of an IMAP quoted string as the parser hands it over: imap-proto returns the
/// bytes between the quotes with their `\"` and `\\` escapes still in, and async-imap
/// quotes names again when it sends them; without this a folder named `Say "hi"` came back
/// as `Say \"hi\"`, was refused at EXAMINE and silently left uncopied.
///
/// (A name sent as a literal is not escaped, and the parser does not say which form it
/// read; servers send literals only for names they cannot quote: 8-bit or CR/LF. Text that
/// cannot be the inside of a quoted string, a `\` followed by anything but `\` or `"`,
/// is kept as it came: Gmail's flag-form labels `\Inbox`, `\Important`, or a literal.)
pub fn unquote(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.contains('\\') || !is_quoted_inside(raw) {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether every `\` in `raw` escapes a `\` or a `"` (and no `"` stands unescaped), as in
/// the inside of an IMAP quoted string.
fn is_quoted_inside(raw: &str) -> bool {
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if !matches!(chars.next(), Some('\\' | '"')) => return false,
            '"' => return false,
            _ => {}
        }
    }
    true
}

fn folder_of(name: &async_imap::types::Name) -> Folder {
    let delimiter = name.delimiter().and_then(|d| unquote(d).chars().next());
    let wire = unquote(name.name()).into_owned();
    let path: Vec<String> = match delimiter {
        Some(d) => wire.split(d).map(decode_mutf7).collect(),
        None => vec![decode_mutf7(&wire)],
    };
    let mut special = None;
    let mut selectable = true;
    for a in name.attributes() {
        match a {
            NameAttribute::NoSelect => selectable = false,
            NameAttribute::All => special = Some(SpecialUse::All),
            NameAttribute::Archive => special = Some(SpecialUse::Archive),
            NameAttribute::Drafts => special = Some(SpecialUse::Drafts),
            NameAttribute::Flagged => special = Some(SpecialUse::Flagged),
            NameAttribute::Junk => special = Some(SpecialUse::Junk),
            NameAttribute::Sent => special = Some(SpecialUse::Sent),
            NameAttribute::Trash => special = Some(SpecialUse::Trash),
            NameAttribute::Extension(e) if e.eq_ignore_ascii_case("\\NonExistent") => {
                selectable = false
            }
            _ => {}
        }
    }
    Folder {
        wire_name: wire,
        path,
        delimiter,
        special,
        selectable,
    }
}

impl ImapSession {
    pub(super) async fn list(&mut self) -> Result<Vec<Folder>> {
        let pattern = if self.caps.special_use
            && self
                .caps
                .raw
                .iter()
                .any(|c| c.eq_ignore_ascii_case("LIST-EXTENDED"))
        {
            "\"*\" RETURN (SPECIAL-USE)"
        } else {
            "\"*\""
        };
        self.settle();
        let t = self.timeout;
        let s = &mut self.s;
        with_timeout(t, "LIST", async {
            let mut stream = s
                .list(Some(""), Some(pattern))
                .await
                .map_err(|e| map_err("LIST", e))?;
            let mut out = Vec::new();
            // What the listing keeps, in estimated bytes: a name may be a 64 KiB line or a
            // 1 MiB literal, and each of its levels is a string of its own.
            let mut kept = 0usize;
            while let Some(name) = stream.try_next().await.map_err(|e| map_err("LIST", e))? {
                if out.len() == bounded::MAX_FOLDERS {
                    return Err(EndpointError::Protocol {
                        op: "LIST".into(),
                        message: format!(
                            "the server listed more than {} folders; stopped reading",
                            bounded::MAX_FOLDERS
                        ),
                    });
                }
                let f = folder_of(&name);
                kept = kept.saturating_add(bounded::folder_cost(&f));
                if kept > bounded::FOLDER_LIST_BUDGET {
                    return Err(EndpointError::Protocol {
                        op: "LIST".into(),
                        message: format!(
                            "the folder names the server listed take more than {} in memory (after {} folders); stopped reading",
                            bytes_exact(bounded::FOLDER_LIST_BUDGET as u64),
                            out.len()
                        ),
                    });
                }
                out.push(f);
            }
            Ok(out)
        })
        .await?
    }

    pub(super) async fn create(&mut self, folder: &str) -> Result<bool> {
        match with_timeout(self.timeout, "CREATE", self.s.create(folder)).await? {
            Ok(()) => Ok(true),
            // Already there (a race with another worker, or made by the user): fine.
            Err(async_imap::error::Error::No(m))
                if m.to_ascii_uppercase().contains("ALREADYEXISTS")
                    || m.to_ascii_lowercase().contains("already exists") =>
            {
                Ok(false)
            }
            Err(e) => Err(map_err(&format!("CREATE {folder}"), e)),
        }
    }

    /// CREATE of every folder, pipelined ([`ImapSession::in_batches`]): up to 256 folders in
    /// one round trip. Each answer read as [`Self::create`] reads it (true: created; false:
    /// it was there already; a NO or BAD: that folder's error). A lost connection or a BYE
    /// is the error of the whole.
    pub(super) async fn create_all(&mut self, folders: &[String]) -> Result<Vec<Result<bool>>> {
        use async_imap::imap_proto::{Response, Status};
        if folders.len() < 2 {
            let mut out = Vec::new();
            for f in folders {
                match self.create(f).await {
                    Err(e) if e.is_transient() => return Err(e),
                    r => out.push(r),
                }
            }
            return Ok(out);
        }
        let commands: Vec<String> = folders
            .iter()
            .map(|f| format!("CREATE {}", quote(f)))
            .collect();
        let mut out: Vec<Option<Result<bool>>> = folders.iter().map(|_| None).collect();
        let batch = self.folder_batches();
        self.in_batches("CREATE", &commands, batch, |i, r| {
            let (
                Some(i),
                Response::Done {
                    status, outcome, ..
                },
            ) = (i, r)
            else {
                return Ok(());
            };
            // In async-imap's words, so the NO is read as everywhere else.
            let text = format!("outcome: {outcome:?}");
            out[i] = Some(match status {
                Status::Ok => Ok(true),
                Status::No
                    if text.to_ascii_uppercase().contains("ALREADYEXISTS")
                        || text.to_ascii_lowercase().contains("already exists") =>
                {
                    Ok(false)
                }
                Status::No => Err(map_err(
                    &format!("CREATE {}", folders[i]),
                    async_imap::error::Error::No(text),
                )),
                _ => Err(map_err(
                    &format!("CREATE {}", folders[i]),
                    async_imap::error::Error::Bad(text),
                )),
            });
            Ok(())
        })
        .await?;
        Ok(out.into_iter().flatten().collect())
    }

    pub(super) async fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        with_timeout(self.timeout, "RENAME", self.s.rename(from, to))
            .await?
            .map_err(|e| map_err(&format!("RENAME {from} {to}"), e))
    }

    pub(super) async fn delete(&mut self, folder: &str) -> Result<()> {
        // Some servers refuse to delete the selected folder: leave it by examining INBOX
        // (never CLOSE, which would expunge messages others marked deleted).
        let _ = with_timeout(self.timeout, "EXAMINE", self.s.examine("INBOX")).await;
        with_timeout(self.timeout, "DELETE", self.s.delete(folder))
            .await?
            .map_err(|e| map_err(&format!("DELETE {folder}"), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes() {
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        // What the parser hands over for `"a\"b\\c"` is the inside with its escapes.
        for name in [
            "a\"b\\c",
            "Say \"hi\"",
            "C:\\temp",
            "\\",
            "\"",
            "plain",
            " x ",
        ] {
            let wire = quote(name);
            assert_eq!(unquote(&wire[1..wire.len() - 1]), name);
        }
        // Not the inside of a quoted string: kept as it came (Gmail's flag-form labels, a
        // name sent as a literal).
        for raw in ["\\Inbox", "\\Important", "C:\\temp", "a\\", "x\"y"] {
            assert_eq!(unquote(raw), raw);
        }
    }
}
