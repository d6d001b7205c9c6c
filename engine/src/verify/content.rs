//! Content comparison where the destination's fingerprints are stamped properties (Graph
//! mail): each paired destination item is exported (`$value`) and what it says is compared
//! with the source message under `mail::content`'s normalisation (Exchange rewrites headers,
//! boundaries and transfer encodings on export; a message written through the JSON path is
//! compared by the properties that path keeps). Read in chunks, so that memory stays bounded.

use std::collections::HashMap;

use crate::endpoint::any::AnySession;
use crate::endpoint::{MailSession, MessageSink};
use crate::mail::content::{Keeps, differs_as};
use crate::mail::utf7::decode_mutf7;
use crate::sync::SyncError;

use super::check::Damaged;

/// A source message and the destination item paired with it by fingerprint.
#[derive(Debug, Clone)]
pub(super) struct Pair {
    pub(super) src_wire: String,
    pub(super) src_uid: u32,
    pub(super) dst_uid: u32,
}

/// Graph's request limit: a message whose base64 is larger goes through the JSON path even
/// when `importMime` is configured (`endpoint::graph::import`).
const MIME_REQUEST_MAX: usize = 4 * 1024 * 1024;

/// What the way a message was written promises to keep.
fn keeps(json_configured: bool, src: &[u8]) -> Keeps {
    if json_configured || src.len().div_ceil(3) * 4 > MIME_REQUEST_MAX {
        Keeps::JsonProperties
    } else {
        Keeps::Mime
    }
}

/// Items compared per round trip.
const CHUNK: usize = 50;

/// The bytes of `uids` in the examined folder of `s`, by UID (vanished ones absent).
async fn read(s: &mut AnySession, uids: &[u32]) -> Result<HashMap<u32, Vec<u8>>, SyncError> {
    if uids.is_empty() {
        return Ok(HashMap::new());
    }
    let (sink, mut rx) = MessageSink::new(8);
    let reading = async move {
        let mut out = HashMap::new();
        while let Some((m, _permit)) = rx.recv().await {
            out.insert(m.uid, m.body.bytes().to_vec());
        }
        out
    };
    let fetching = async move {
        let r = s.fetch_messages(uids, &sink).await;
        drop(sink);
        r
    };
    let (fetched, out) = tokio::join!(fetching, reading);
    fetched?;
    Ok(out)
}

/// Compare what the paired items say: (items compared, items that differ).
pub(super) async fn compare_content(
    s: &mut AnySession,
    d: &mut AnySession,
    dst: &str,
    pairs: &[Pair],
    json_configured: bool,
) -> Result<(u64, Vec<Damaged>), SyncError> {
    let mut checked = 0;
    let mut damaged = Vec::new();
    // Each side's folder is opened once (a Graph EXAMINE lists the whole folder).
    d.examine(dst).await?;
    let mut by_src: Vec<(&str, Vec<&Pair>)> = Vec::new();
    for p in pairs {
        match by_src.iter_mut().find(|(w, _)| *w == p.src_wire) {
            Some((_, v)) => v.push(p),
            None => by_src.push((&p.src_wire, vec![p])),
        }
    }
    for (wire, ps) in by_src {
        s.examine(wire).await?;
        for chunk in ps.chunks(CHUNK) {
            let dst_uids: Vec<u32> = chunk.iter().map(|p| p.dst_uid).collect();
            let there = read(d, &dst_uids).await?;
            let uids: Vec<u32> = chunk.iter().map(|p| p.src_uid).collect();
            let here = read(s, &uids).await?;
            for p in chunk {
                // Gone from the source since it was listed: nothing to compare with.
                let Some(src) = here.get(&p.src_uid) else {
                    continue;
                };
                checked += 1;
                let what = match there.get(&p.dst_uid) {
                    None => Some("listed on the destination but could not be read back".into()),
                    Some(b) => differs_as(src, b, keeps(json_configured, src)),
                };
                if let Some(what) = what {
                    damaged.push(Damaged {
                        src_wire: p.src_wire.clone(),
                        src_folder: decode_mutf7(&p.src_wire),
                        dst_folder: decode_mutf7(dst),
                        src_uid: p.src_uid,
                        dst_uid: p.dst_uid,
                        message_id: crate::mail::message_id::message_id(src),
                        what,
                    });
                }
            }
        }
    }
    Ok((checked, damaged))
}
