//! What a delta pass (`cutover sync`) needs of an IMAP server beyond a copy: the flags of
//! the examined folder's messages (all of them, or with CONDSTORE only those changed since a
//! MODSEQ), the folder's HIGHESTMODSEQ, setting exactly the flags that changed (UID STORE)
//! and moving messages between folders (UID MOVE, or UID COPY and UID EXPUNGE of exactly
//! those UIDs).

use futures::TryStreamExt;

use super::errors::map_err;
use super::fetch::{FETCH_CHUNK_MSGS, flag_name};
use super::folders::quote;
use super::session::ImapSession;
use crate::endpoint::net::with_timeout;
use crate::endpoint::session::UidFlags;
use crate::endpoint::types::{EndpointError, FolderState, Result};
use crate::mail::uidset::uid_set;

impl ImapSession {
    /// Whether the server offers CONDSTORE (RFC 7162): flag listings can then ask for the
    /// changes since a MODSEQ only.
    pub fn has_condstore(&self) -> bool {
        self.caps
            .raw
            .iter()
            .any(|c| c.eq_ignore_ascii_case("CONDSTORE") || c.eq_ignore_ascii_case("QRESYNC"))
    }

    /// Whether the server offers QRESYNC (RFC 7162): an expunge then raises the folder's
    /// HIGHESTMODSEQ too, so an unchanged HIGHESTMODSEQ and UIDNEXT mean an unchanged folder.
    pub fn has_qresync(&self) -> bool {
        self.caps
            .raw
            .iter()
            .any(|c| c.eq_ignore_ascii_case("QRESYNC"))
    }

    /// Whether the server offers MOVE (RFC 6851).
    pub fn has_move(&self) -> bool {
        self.caps.raw.iter().any(|c| c.eq_ignore_ascii_case("MOVE"))
    }

    /// EXAMINE a folder, with CONDSTORE enabled first where offered: its state and its
    /// HIGHESTMODSEQ (None without CONDSTORE, or when the folder has no MODSEQs).
    pub async fn examine_modseq(&mut self, folder: &str) -> Result<(FolderState, Option<u64>)> {
        if self.has_condstore() && !self.condstore_on {
            let t = self.timeout;
            self.settle();
            with_timeout(
                t,
                "ENABLE CONDSTORE",
                self.s.run_command_and_check_ok("ENABLE CONDSTORE"),
            )
            .await?
            .map_err(|e| map_err("ENABLE CONDSTORE", e))?;
            self.condstore_on = true;
        }
        let st = self.examine_folder(folder).await?;
        Ok((st, self.modseq.filter(|_| self.condstore_on)))
    }

    /// The flags of the opened folder's messages: all of them (`uids` None), or those among
    /// `uids`; with `changed_since` (CONDSTORE) only those whose flags changed after that
    /// MODSEQ.
    pub async fn uid_flags(
        &mut self,
        uids: Option<&[u32]>,
        changed_since: Option<u64>,
    ) -> Result<Vec<UidFlags>> {
        let sets: Vec<String> = match uids {
            None => vec!["1:*".to_string()],
            Some([]) => return Ok(Vec::new()),
            Some(u) => u.chunks(FETCH_CHUNK_MSGS).map(uid_set).collect(),
        };
        let items = match changed_since {
            Some(m) => format!("(UID FLAGS) (CHANGEDSINCE {m})"),
            None => "(UID FLAGS)".to_string(),
        };
        let t = self.timeout;
        let mut out = Vec::new();
        for set in sets {
            self.settle();
            let s = &mut self.s;
            let part: Vec<UidFlags> = with_timeout(t * 4, "UID FETCH (FLAGS)", async {
                let mut stream = s
                    .uid_fetch(&set, &items)
                    .await
                    .map_err(|e| map_err("UID FETCH (FLAGS)", e))?;
                let mut part = Vec::new();
                while let Some(f) = stream
                    .try_next()
                    .await
                    .map_err(|e| map_err("UID FETCH (FLAGS)", e))?
                {
                    if let Some(uid) = f.uid.filter(|u| *u > 0) {
                        part.push((uid, f.flags().filter_map(|x| flag_name(&x)).collect()));
                    }
                }
                Ok::<_, EndpointError>(part)
            })
            .await??;
            out.extend(part);
        }
        // "n:*" returns the last message even when asked for none above it; keep one answer
        // per UID.
        out.sort_by_key(|(u, _)| *u);
        out.dedup_by_key(|(u, _)| *u);
        Ok(out)
    }

    /// Add and remove flags of one message of the selected folder (`UID STORE ... .SILENT`):
    /// exactly these, nothing else of the message is touched.
    pub async fn store_flags(&mut self, uid: u32, add: &[String], remove: &[String]) -> Result<()> {
        let t = self.timeout;
        for (sign, list) in [("+", add), ("-", remove)] {
            if list.is_empty() {
                continue;
            }
            self.settle();
            let query = format!("{sign}FLAGS.SILENT ({})", list.join(" "));
            let s = &mut self.s;
            with_timeout(t, "UID STORE", async {
                let st = s.uid_store(uid.to_string(), &query).await?;
                st.try_collect::<Vec<_>>().await
            })
            .await?
            .map_err(|e| map_err("UID STORE", e))?;
        }
        Ok(())
    }

    /// Move messages of the selected folder to folder `to`: UID MOVE where the server offers
    /// MOVE, else UID COPY and then the removal of exactly these UIDs (UIDPLUS).
    pub async fn move_uids(&mut self, uids: &[u32], to: &str) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let t = self.timeout;
        let verb = if self.has_move() {
            "UID MOVE"
        } else {
            "UID COPY"
        };
        if !self.has_move() && !self.caps.uidplus {
            return Err(EndpointError::Protocol {
                op: "UID MOVE".into(),
                message: "the destination offers neither MOVE nor UIDPLUS, so cutover cannot move \
                          only its own messages between folders"
                    .into(),
            });
        }
        for chunk in uids.chunks(FETCH_CHUNK_MSGS) {
            self.settle();
            let cmd = format!("{verb} {} {}", uid_set(chunk), quote(to));
            with_timeout(t, verb, self.s.run_command_and_check_ok(&cmd))
                .await?
                .map_err(|e| map_err(verb, e))?;
        }
        if !self.has_move() {
            self.expunge(uids).await?;
        }
        Ok(())
    }
}
