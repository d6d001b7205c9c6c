//! The trait every endpoint's session implements.

use std::future::Future;

use super::sink::MessageSink;
use super::types::{
    AppendOutcome, Capabilities, EndpointError, Fingerprinted, Folder, FolderState, Message,
    MessageIdentity, MessageMeta, Result,
};

/// One message's flags and keywords as the endpoint names them (`\Seen`, `$label1`), by UID.
pub type UidFlags = (u32, Vec<String>);

/// The state of folders read without opening them, by wire name: each folder's
/// [`FolderState`] and change marker (see [`MailSession::examine_changes`]).
pub type Statuses = std::collections::HashMap<String, (FolderState, Option<u64>)>;

/// One logged-in session on an endpoint. The methods that work on "the examined folder" need
/// a prior [`MailSession::examine`].
pub trait MailSession: Send {
    fn capabilities(&self) -> &Capabilities;

    fn list_folders(&mut self) -> impl Future<Output = Result<Vec<Folder>>> + Send;

    /// Open a folder read-only (the source is never modified).
    fn examine(&mut self, folder: &str) -> impl Future<Output = Result<FolderState>> + Send;

    /// Open a destination folder for writing: its state, and which keywords it accepts.
    fn open_for_append(&mut self, folder: &str)
    -> impl Future<Output = Result<FolderState>> + Send;

    fn status(&mut self, folder: &str) -> impl Future<Output = Result<FolderState>> + Send;

    /// Create a folder: true when this call created it, false when it existed already.
    fn create_folder(&mut self, folder: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Create a folder that people will see as `display` (the source folder's name, "/"
    /// between levels): where the name on the wire is not the one shown (a calendar or an
    /// address book), the endpoint gives it that display name. The default creates it by
    /// its wire name alone.
    fn create_folder_shown_as(
        &mut self,
        folder: &str,
        display: &str,
    ) -> impl Future<Output = Result<bool>> + Send {
        let _ = display;
        self.create_folder(folder)
    }

    /// UIDs and sizes of the examined folder's messages with UID >= `from_uid`.
    fn fetch_meta(
        &mut self,
        from_uid: u32,
    ) -> impl Future<Output = Result<Vec<MessageMeta>>> + Send;

    /// [`MailSession::examine`] then [`MailSession::fetch_meta`]; IMAP writes both commands
    /// at once (one round trip across a WAN instead of two).
    fn examine_listing(
        &mut self,
        folder: &str,
        from_uid: u32,
    ) -> impl Future<Output = Result<(FolderState, Vec<MessageMeta>)>> + Send {
        async move {
            let st = self.examine(folder).await?;
            Ok((st, self.fetch_meta(from_uid).await?))
        }
    }

    /// The bytes each of `folders` holds, where the endpoint can tell them cheaply (IMAP: one
    /// round trip for all); a first pass copies the largest first. The default tells none.
    fn folder_bytes(
        &mut self,
        folders: &[String],
    ) -> impl Future<Output = Result<std::collections::HashMap<String, u64>>> + Send {
        let _ = folders;
        async { Ok(Default::default()) }
    }

    /// [`MailSession::status`] of the folder opened with `open_for_append`, then
    /// [`MailSession::fetch_meta`]; IMAP writes both commands at once.
    fn status_listing(
        &mut self,
        folder: &str,
        from_uid: u32,
    ) -> impl Future<Output = Result<(FolderState, Vec<MessageMeta>)>> + Send {
        async move {
            let st = self.status(folder).await?;
            Ok((st, self.fetch_meta(from_uid).await?))
        }
    }

    /// Identities (size, Message-ID, provider id and labels where the endpoint has them) of
    /// the examined folder's messages with UID >= `from_uid`, without their bodies. The
    /// default knows only UIDs and sizes; callers then identify messages by content.
    fn fetch_identities(
        &mut self,
        from_uid: u32,
    ) -> impl Future<Output = Result<Vec<MessageIdentity>>> + Send {
        async move {
            Ok(self
                .fetch_meta(from_uid)
                .await?
                .into_iter()
                .map(|m| MessageIdentity {
                    uid: m.uid,
                    size: m.size,
                    ..Default::default()
                })
                .collect())
        }
    }

    /// Stream whole messages of the examined folder (flags, date, bytes) into `sink`, in UID
    /// order. Messages that vanished in between are simply absent.
    fn fetch_messages(
        &mut self,
        uids: &[u32],
        sink: &MessageSink,
    ) -> impl Future<Output = Result<()>> + Send;

    /// [`MailSession::fetch_messages`] for every UID list `next` hands out, one after
    /// another until it has none left. IMAP writes the next list's UID FETCH before the last
    /// one's answer is read, so no round trip is lost between lists.
    fn fetch_each(
        &mut self,
        next: &mut (dyn FnMut() -> Option<Vec<u32>> + Send),
        sink: &MessageSink,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            while let Some(uids) = next() {
                self.fetch_messages(&uids, sink).await?;
            }
            Ok(())
        }
    }

    /// Fingerprints (and flags, dates) of the examined folder's messages among `uids`
    /// (all messages with UID >= `from_uid` when `uids` is empty); bodies are hashed and dropped.
    fn fetch_fingerprints(
        &mut self,
        uids: &[u32],
        from_uid: u32,
    ) -> impl Future<Output = Result<Vec<Fingerprinted>>> + Send;

    /// Append messages to a folder, pipelined where the endpoint allows. One outcome per
    /// message, in order. An `Err` means the connection failed: outcomes are then unknown.
    fn append(
        &mut self,
        folder: &str,
        msgs: &[Message],
    ) -> impl Future<Output = Result<Vec<AppendOutcome>>> + Send;

    /// Send a window of messages without waiting for its answer, where the endpoint can
    /// (IMAP with MULTIAPPEND and LITERAL+: one command per window, the server's answer read
    /// by [`MailSession::append_finish`]), so the next window is on the wire while this one
    /// is stored. False: nothing was sent, and the window goes by [`MailSession::append`].
    /// An `Err` means the connection failed: every window sent is then in doubt.
    fn append_send(
        &mut self,
        folder: &str,
        msgs: &[Message],
    ) -> impl Future<Output = Result<bool>> + Send {
        let _ = (folder, msgs);
        async { Ok(false) }
    }

    /// Resolves once the oldest window [`MailSession::append_send`] sent is answered, the
    /// answer kept for [`MailSession::append_finish`]. Cancel-safe (what was read is kept),
    /// so the copy waits for this or for its next message to send, whichever comes first.
    /// The default is ready at once (the answer is read by `append_finish`).
    fn append_ready(&mut self, folder: &str) -> impl Future<Output = Result<()>> + Send {
        let _ = folder;
        async { Ok(()) }
    }

    /// The outcomes of the oldest window [`MailSession::append_send`] sent (`msgs` are its
    /// messages, in order), as [`MailSession::append`] gives them: a window the server
    /// refused as a whole is sent again message by message, once the windows sent after it
    /// are answered.
    fn append_finish(
        &mut self,
        folder: &str,
        msgs: &[Message],
    ) -> impl Future<Output = Result<Vec<AppendOutcome>>> + Send {
        let _ = (folder, msgs);
        async {
            Err(EndpointError::Unsupported {
                op: "pipelined APPEND windows",
            })
        }
    }

    /// Whether a large message's APPEND to `folder` can start before the message is whole
    /// ([`MailSession::append_stream_begin`]): IMAP with LITERAL+.
    fn append_streams(&self, folder: &str) -> bool {
        let _ = folder;
        false
    }

    /// Cut-through: start a one-message APPEND to `folder` of `size` bytes with `head`'s
    /// flags and date (its body is not used); the bytes follow by
    /// [`MailSession::append_stream_bytes`], the last of them by
    /// [`MailSession::append_stream_end`], after which the APPEND is in flight as a window
    /// [`MailSession::append_send`] sent. False: nothing was sent. The server stores
    /// nothing before the last byte; a session whose APPEND is left unfinished is mid-command
    /// and must be dropped ([`MailSession::append_stream_abort`] makes sure it writes nothing
    /// more).
    fn append_stream_begin(
        &mut self,
        folder: &str,
        head: &Message,
        size: u64,
    ) -> impl Future<Output = Result<bool>> + Send {
        let _ = (folder, head, size);
        async { Ok(false) }
    }

    /// More of the streamed message's bytes: never its last one.
    fn append_stream_bytes(
        &mut self,
        folder: &str,
        bytes: &[u8],
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = (folder, bytes);
        async {
            Err(EndpointError::Unsupported {
                op: "streamed APPEND",
            })
        }
    }

    /// The streamed message's remaining bytes and the command's end.
    fn append_stream_end(
        &mut self,
        folder: &str,
        rest: &[u8],
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = (folder, rest);
        async {
            Err(EndpointError::Unsupported {
                op: "streamed APPEND",
            })
        }
    }

    /// The streamed APPEND will not be finished: the session writes nothing more (what it
    /// wrote is no command; the server stores nothing of it) and is to be dropped. The
    /// answers of windows sent before it can still be read.
    fn append_stream_abort(&mut self, folder: &str) {
        let _ = folder;
    }

    /// Remove exactly these messages from the folder opened with `open_for_append` (rollback
    /// on the destination only; the source is never written). Needs UIDPLUS (UID EXPUNGE), so
    /// that no other message marked deleted is touched.
    fn expunge_uids(&mut self, uids: &[u32]) -> impl Future<Output = Result<()>> + Send;

    /// Rename a folder (rollback moves an empty folder aside before deleting it).
    fn rename_folder(&mut self, from: &str, to: &str) -> impl Future<Output = Result<()>> + Send;

    /// Delete a folder (rollback of a folder cutover created, once it is empty).
    fn delete_folder(&mut self, folder: &str) -> impl Future<Output = Result<()>> + Send;

    // What a delta pass (`cutover sync`) needs beyond a copy. The defaults say
    // `EndpointError::Unsupported`: the pass then leaves that part out and says so once per
    // mailbox; an endpoint offers what it can.

    /// Open a folder read-only with its change marker (IMAP CONDSTORE: HIGHESTMODSEQ), which
    /// [`MailSession::list_flags`] takes to list only what changed since. The default opens
    /// it with [`MailSession::examine`] and has no marker.
    fn examine_changes(
        &mut self,
        folder: &str,
    ) -> impl Future<Output = Result<(FolderState, Option<u64>)>> + Send {
        async move { Ok((self.examine(folder).await?, None)) }
    }

    /// The examined folder's UIDs >= `from_uid` where only their presence matters (a delta
    /// pass's scan, the Gmail plan's check of what left a folder). The default is
    /// [`MailSession::fetch_meta`]; an endpoint whose sizes are estimates anyway
    /// (`inexact_sizes`) may answer its listing without them (0), saving a request per
    /// message (Gmail API).
    fn list_uids(
        &mut self,
        from_uid: u32,
    ) -> impl Future<Output = Result<Vec<MessageMeta>>> + Send {
        self.fetch_meta(from_uid)
    }

    /// The state of each of `folders` without opening them, all in one round trip where the
    /// endpoint can (IMAP: pipelined STATUS), with the change marker when `markers` and the
    /// endpoint has one (IMAP: HIGHESTMODSEQ under CONDSTORE). A folder the endpoint could
    /// not tell is left out (it is then opened as usual). The default tells none.
    fn statuses(
        &mut self,
        folders: &[String],
        markers: bool,
    ) -> impl Future<Output = Result<Statuses>> + Send {
        let _ = (folders, markers);
        async { Ok(Statuses::new()) }
    }

    /// Whether an unchanged marker and UIDNEXT mean an unchanged folder (IMAP QRESYNC: an
    /// expunge raises HIGHESTMODSEQ too), so a delta pass can skip the folder after one
    /// [`MailSession::examine_changes`].
    fn marker_covers_expunges(&self) -> bool {
        false
    }

    /// The flags of the opened folder's messages: all of them (`uids` None) or those among
    /// `uids`; with `changed_since` (a marker of [`MailSession::examine_changes`]) only those
    /// changed after it.
    fn list_flags(
        &mut self,
        uids: Option<&[u32]>,
        changed_since: Option<u64>,
    ) -> impl Future<Output = Result<Vec<UidFlags>>> + Send {
        let _ = (uids, changed_since);
        async { Err(EndpointError::Unsupported { op: "list flags" }) }
    }

    /// Create each of `folders` (wire name, name shown) as
    /// [`MailSession::create_folder_shown_as`] does, all in one round trip where the endpoint
    /// can (IMAP: pipelined CREATE): one answer per folder, in order. A failure that ends the
    /// session (a lost connection) is the error; the default creates them one by one.
    fn create_folders(
        &mut self,
        folders: &[(String, String)],
    ) -> impl Future<Output = Result<Vec<Result<bool>>>> + Send {
        async move {
            let mut out = Vec::new();
            for (wire, shown) in folders {
                match self.create_folder_shown_as(wire, shown).await {
                    Err(e) if e.is_transient() => return Err(e),
                    r => out.push(r),
                }
            }
            Ok(out)
        }
    }

    /// Add and remove exactly these flags of one message of the folder opened with
    /// `open_for_append`; nothing else of the message is touched.
    fn set_flags(
        &mut self,
        uid: u32,
        add: &[String],
        remove: &[String],
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = (uid, add, remove);
        async { Err(EndpointError::Unsupported { op: "store flags" }) }
    }

    /// Move messages of the folder opened with `open_for_append` to folder `to` (the
    /// destination only). Where they land is found by fingerprint afterwards.
    fn move_messages(&mut self, uids: &[u32], to: &str) -> impl Future<Output = Result<()>> + Send {
        let _ = (uids, to);
        async {
            Err(EndpointError::Unsupported {
                op: "move messages",
            })
        }
    }

    /// Of these UIDs of the opened source folder that it no longer lists, those whose item
    /// is still there as a newer version (a calendar or contact resource at the same place
    /// with another ETag), each with the UID of that version: changed, not deleted.
    fn newer_versions(
        &mut self,
        uids: &[u32],
    ) -> impl Future<Output = Result<Vec<(u32, u32)>>> + Send {
        let _ = uids;
        async {
            Err(EndpointError::Unsupported {
                op: "tell changed items from deleted ones",
            })
        }
    }

    /// Remove these messages of the folder opened with `open_for_append`, except those
    /// changed on the destination since cutover wrote them (an item a user edited there),
    /// which are kept and returned. The default removes them all ([`MailSession::expunge_uids`]).
    fn expunge_unchanged(&mut self, uids: &[u32]) -> impl Future<Output = Result<Vec<u32>>> + Send {
        async move {
            self.expunge_uids(uids).await?;
            Ok(Vec::new())
        }
    }

    /// Something a delta pass should say once, as an info issue (a change marker the server
    /// no longer accepted, so that folder is compared in full); taken after `examine_changes`.
    fn take_notice(&mut self) -> Option<String> {
        None
    }

    /// Which keywords the examined/selected folder accepts (None: any).
    fn permanent_keywords(&self) -> Option<&[String]>;

    fn logout(self) -> impl Future<Output = ()> + Send;
}
