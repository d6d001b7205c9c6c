//! An in-memory [`MailSession`] for the copy loop's unit tests: a source holding `msgs`, or
//! a destination (no `msgs`) that stores what is appended, refusing every message containing
//! "REFUSE" (NO for that message). Sessions made with [`MemSession::on_same`] share one
//! source and one destination, as a mailbox's helper connections do. A `pipelined`
//! destination takes windows by `append_send` and answers them by `append_finish`, as an
//! IMAP server with MULTIAPPEND does, counting how many were ever in flight at once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crate::endpoint::{
    AppendOutcome, Body, Capabilities, Fingerprinted, Folder, FolderState, MailSession, Message,
    MessageMeta, MessageSink,
};
use crate::events::{Halt, RunStats, Sink};
use crate::journal::{FolderRow, Journal};

use super::types::{Ctx, FolderJob};

/// The copy loop's unit tests' set-up: a journal in a temporary directory holding mailbox
/// `a->a` and its INBOX, with what a folder's copy needs around it.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub store: Journal,
    pub mid: i64,
    pub row: FolderRow,
    sink: Sink,
    halt: Halt,
    stats: RunStats,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Journal::open(&dir.path().join("j.sqlite"), Default::default()).unwrap();
        let mid = store.upsert_mailbox("a->a", "b", "a", "a").unwrap();
        let row = store.folder(mid, "INBOX", "INBOX").unwrap();
        let sink = Sink::new(store.clone(), None);
        Fixture {
            _dir: dir,
            store,
            mid,
            row,
            sink,
            halt: Halt::default(),
            stats: RunStats::default(),
        }
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            store: &self.store,
            sink: &self.sink,
            stop: &self.halt,
            stats: &self.stats,
        }
    }

    /// The INBOX's copy, with this error budget.
    pub fn job(&self, max_failed: usize) -> FolderJob {
        FolderJob {
            mailbox: "a->a".into(),
            row: self.row.clone(),
            src: "INBOX".into(),
            src_display: "INBOX".into(),
            seen: Default::default(),
            dst: "INBOX".into(),
            max_failed,
            filter: None,
        }
    }
}

/// One message as the destination stored it.
#[derive(Debug, Clone)]
pub struct StoredMsg {
    /// The source UID it was copied from.
    pub src_uid: u32,
    /// Which session stored it.
    pub session: usize,
    pub bytes: Vec<u8>,
    pub flags: Vec<String>,
}

#[derive(Default)]
pub struct MemSession {
    pub caps: Capabilities,
    pub msgs: Arc<Vec<(u32, Vec<u8>)>>,
    pub stored: Arc<Mutex<Vec<StoredMsg>>>,
    pub id: usize,
    /// Windows go by `append_send` / `append_finish`.
    pub pipelined: bool,
    /// The answers of the windows sent, oldest first.
    pub answers: VecDeque<Vec<AppendOutcome>>,
    /// The most windows in flight at once, over every session on the same destination.
    pub deepest: Arc<AtomicUsize>,
    /// A pipelined destination also takes large messages streamed (cut-through).
    pub streams: bool,
    /// The streamed APPEND under way: its head, the bytes so far, its size.
    pub streaming: Option<(Message, Vec<u8>, u64)>,
    /// Streamed APPENDs completed, and abandoned.
    pub streamed: usize,
    pub abandoned: usize,
    /// Called as a streamed APPEND's last bytes are written (before it is stored).
    pub on_stream_end: Option<Arc<dyn Fn(u32) + Send + Sync>>,
    /// A source that announces large messages (previews) and fails in the middle of this
    /// one's bytes.
    pub fail_mid: Option<u32>,
}

impl MemSession {
    /// A source holding `msgs`.
    pub fn source(msgs: Vec<(u32, Vec<u8>)>) -> Self {
        MemSession {
            msgs: Arc::new(msgs),
            ..Default::default()
        }
    }

    /// Session `id` on the same source and destination as `self`.
    pub fn on_same(&self, id: usize) -> Self {
        MemSession {
            caps: Capabilities::default(),
            msgs: self.msgs.clone(),
            stored: self.stored.clone(),
            id,
            pipelined: self.pipelined,
            answers: VecDeque::new(),
            deepest: self.deepest.clone(),
            streams: self.streams,
            on_stream_end: self.on_stream_end.clone(),
            fail_mid: self.fail_mid,
            ..Default::default()
        }
    }

    /// What the destination holds, in the order stored.
    pub fn stored(&self) -> Vec<StoredMsg> {
        self.stored.lock().unwrap().clone()
    }
}

impl MailSession for MemSession {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    async fn list_folders(&mut self) -> crate::endpoint::Result<Vec<Folder>> {
        Ok(Vec::new())
    }
    async fn examine(&mut self, _: &str) -> crate::endpoint::Result<FolderState> {
        Ok(FolderState {
            uidvalidity: 1,
            uidnext: self.msgs.len() as u32 + 1,
            exists: self.msgs.len() as u32,
        })
    }
    async fn open_for_append(&mut self, f: &str) -> crate::endpoint::Result<FolderState> {
        self.status(f).await
    }
    async fn status(&mut self, _: &str) -> crate::endpoint::Result<FolderState> {
        let n = self.stored.lock().unwrap().len() as u32;
        Ok(FolderState {
            uidvalidity: 7,
            uidnext: n + 1,
            exists: n,
        })
    }
    async fn create_folder(&mut self, _: &str) -> crate::endpoint::Result<bool> {
        Ok(true)
    }
    async fn rename_folder(&mut self, _: &str, _: &str) -> crate::endpoint::Result<()> {
        Ok(())
    }
    async fn fetch_meta(&mut self, from: u32) -> crate::endpoint::Result<Vec<MessageMeta>> {
        let all: Vec<(u32, u64)> = if self.msgs.is_empty() {
            let stored = self.stored.lock().unwrap();
            (1..)
                .zip(stored.iter().map(|s| s.bytes.len() as u64))
                .collect()
        } else {
            self.msgs
                .iter()
                .map(|(u, b)| (*u, b.len() as u64))
                .collect()
        };
        Ok(all
            .into_iter()
            .filter(|(u, _)| *u >= from)
            .map(|(uid, size)| MessageMeta { uid, size })
            .collect())
    }
    async fn fetch_messages(
        &mut self,
        uids: &[u32],
        sink: &MessageSink,
    ) -> crate::endpoint::Result<()> {
        for (uid, b) in self.msgs.iter().filter(|(u, _)| uids.contains(u)) {
            // A large message is announced, and its bytes handed on as they "arrive".
            if let Some(pv) = sink.previewer().filter(|p| b.len() as u64 >= p.threshold()) {
                let (a, tx) = pv.prepare(*uid, Vec::new(), None, b.len() as u64);
                let mut tx = a.send().then_some(tx);
                for (i, c) in b.chunks(64 * 1024).enumerate() {
                    if self.fail_mid == Some(*uid) && i * 2 * 64 * 1024 >= b.len() {
                        return Err(crate::endpoint::EndpointError::ConnectionLost {
                            op: "UID FETCH".into(),
                        });
                    }
                    if let Some(tx) = tx.as_mut() {
                        tx.send(c);
                    }
                    tokio::task::yield_now().await;
                }
            }
            let m = Message {
                uid: *uid,
                flags: Vec::new(),
                internal_date: None,
                body: Body::new(b.clone()),
            };
            if !sink.send(m).await {
                break;
            }
        }
        Ok(())
    }
    async fn fetch_fingerprints(
        &mut self,
        _: &[u32],
        _: u32,
    ) -> crate::endpoint::Result<Vec<Fingerprinted>> {
        Ok(Vec::new())
    }
    async fn append_send(&mut self, f: &str, msgs: &[Message]) -> crate::endpoint::Result<bool> {
        if !self.pipelined {
            return Ok(false);
        }
        let answer = self.append(f, msgs).await?;
        self.answers.push_back(answer);
        self.deepest.fetch_max(self.answers.len(), Relaxed);
        Ok(true)
    }
    async fn append_finish(
        &mut self,
        _: &str,
        msgs: &[Message],
    ) -> crate::endpoint::Result<Vec<AppendOutcome>> {
        tokio::task::yield_now().await;
        let a = self.answers.pop_front().expect("a window was sent");
        assert_eq!(a.len(), msgs.len(), "answered in the order sent");
        Ok(a)
    }
    async fn append(
        &mut self,
        _: &str,
        msgs: &[Message],
    ) -> crate::endpoint::Result<Vec<AppendOutcome>> {
        tokio::task::yield_now().await;
        let mut stored = self.stored.lock().unwrap();
        Ok(msgs
            .iter()
            .map(|m| {
                if m.body.bytes().windows(6).any(|w| w == b"REFUSE") {
                    return AppendOutcome::Refused {
                        reason: "destination refused the message: policy".into(),
                    };
                }
                stored.push(StoredMsg {
                    src_uid: m.uid,
                    session: self.id,
                    bytes: m.body.bytes().to_vec(),
                    flags: m.flags.clone(),
                });
                AppendOutcome::Stored {
                    uidvalidity: Some(7),
                    uid: Some(stored.len() as u32),
                }
            })
            .collect())
    }
    fn append_streams(&self, _: &str) -> bool {
        self.streams && self.pipelined
    }
    async fn append_stream_begin(
        &mut self,
        _: &str,
        head: &Message,
        size: u64,
    ) -> crate::endpoint::Result<bool> {
        assert!(self.streaming.is_none(), "one streamed APPEND at a time");
        let head = Message {
            uid: head.uid,
            flags: head.flags.clone(),
            internal_date: head.internal_date,
            body: Body::new(Vec::new()),
        };
        self.streaming = Some((head, Vec::new(), size));
        Ok(true)
    }
    async fn append_stream_bytes(&mut self, _: &str, b: &[u8]) -> crate::endpoint::Result<()> {
        let (_, got, size) = self.streaming.as_mut().expect("a streamed APPEND");
        got.extend_from_slice(b);
        assert!(
            (got.len() as u64) < *size,
            "never the last byte before the end"
        );
        tokio::task::yield_now().await;
        Ok(())
    }
    async fn append_stream_end(&mut self, f: &str, rest: &[u8]) -> crate::endpoint::Result<()> {
        let (head, mut got, size) = self.streaming.take().expect("a streamed APPEND");
        got.extend_from_slice(rest);
        assert_eq!(got.len() as u64, size);
        if let Some(hook) = &self.on_stream_end {
            hook(head.uid);
        }
        self.streamed += 1;
        let m = Message {
            body: Body::new(got),
            ..head
        };
        assert!(self.append_send(f, &[m]).await?);
        Ok(())
    }
    fn append_stream_abort(&mut self, _: &str) {
        if self.streaming.take().is_some() {
            self.abandoned += 1;
        }
    }
    async fn expunge_uids(&mut self, _: &[u32]) -> crate::endpoint::Result<()> {
        Ok(())
    }
    async fn delete_folder(&mut self, _: &str) -> crate::endpoint::Result<()> {
        Ok(())
    }
    fn permanent_keywords(&self) -> Option<&[String]> {
        None
    }
    async fn logout(self) {}
}
