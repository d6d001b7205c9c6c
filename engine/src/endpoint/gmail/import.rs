//! Writing one message with `messages.import` (a multipart upload: the labels, then the raw
//! bytes), and what its answer means for the message and the folder.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::connector::GmailSession;
use super::types::{GmailMessage, MAX_IMPORT_BYTES, Meta, Target, units};
use super::wire::{error_of, store_err};
use crate::endpoint::types::{AppendOutcome, EndpointError, Message, Result};
use crate::mail::fmt::bytes_iec;

/// A multipart/related boundary that does not occur in `raw`.
pub(super) fn boundary_for(raw: &[u8]) -> String {
    let mut n: u64 = 0x9e37_79b9_7f4a_7c15 ^ raw.len() as u64;
    loop {
        let b = format!("cutover-{n:016x}");
        if !raw.windows(b.len()).any(|w| w == b.as_bytes()) {
            return b;
        }
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
    }
}

impl GmailSession {
    /// Import one message; the outcome, or Err when it is unknown whether it was stored.
    pub(super) async fn import(
        &mut self,
        target: &Target,
        key: &str,
        folder: &str,
        m: &Message,
    ) -> Result<AppendOutcome> {
        let op = "messages.import";
        let raw = m.body.bytes();
        let limit = self.caps.append_limit.unwrap_or(MAX_IMPORT_BYTES);
        if raw.len() as u64 > limit {
            return Ok(AppendOutcome::Refused {
                reason: format!(
                    "message of {} is over the Gmail API's import limit of {}; not copied",
                    bytes_iec(raw.len() as u64),
                    bytes_iec(limit)
                ),
            });
        }
        let mut label_ids: Vec<String> = Vec::new();
        if let Target::Label(id) = target {
            label_ids.push(id.clone());
        }
        let has = |f: &str| m.flags.iter().any(|x| x.eq_ignore_ascii_case(f));
        if !has("\\Seen") {
            label_ids.push("UNREAD".into());
        }
        if has("\\Flagged") {
            label_ids.push("STARRED".into());
        }
        let boundary = boundary_for(raw);
        let meta = json!({ "labelIds": label_ids });
        let mut body = Vec::with_capacity(raw.len() + 512);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{meta}\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(raw);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut url = self.url(true, &["messages", "import"]);
        url.query_pairs_mut()
            .append_pair("uploadType", "multipart")
            .append_pair("internalDateSource", "dateHeader")
            .append_pair("neverMarkSpam", "true")
            .append_pair("processForCalendar", "false");
        let ctype = format!("multipart/related; boundary={boundary}");
        let res = self
            .call(
                op,
                units::MESSAGES_IMPORT,
                Method::POST,
                url,
                Some((&ctype, &body)),
            )
            .await;
        let (st, resp) = match res {
            Ok(r) => r,
            // Refused before anything was sent or stored: the message stays pending.
            Err(e @ (EndpointError::Throttled { .. } | EndpointError::Auth { .. })) => {
                return Ok(AppendOutcome::Failed { error: e });
            }
            Err(e) => return Err(e),
        };
        if st.is_success() {
            let g: GmailMessage = self.parse(op, &resp)?;
            let uid = self
                .c
                .store
                .ref_uids(self.c.side, &self.user, key, &[g.id.as_str()])
                .map_err(store_err(op))?[0];
            let (uidvalidity, _) = self
                .c
                .store
                .ref_folder(self.c.side, &self.user, key)
                .map_err(store_err(op))?;
            self.meta.insert(
                g.id.clone(),
                Meta {
                    labels: if g.label_ids.is_empty() {
                        label_ids
                    } else {
                        g.label_ids
                    },
                    size: raw.len() as u64,
                    internal_ms: g.internal_date.as_deref().and_then(|d| d.parse().ok()),
                },
            );
            if let Some(cur) = self.current.as_mut()
                && cur.key == key
                && !cur.listing.iter().any(|(u, _)| *u == uid)
            {
                cur.listing.push((uid, g.id));
            }
            return Ok(AppendOutcome::Stored {
                uidvalidity: Some(uidvalidity),
                uid: Some(uid),
            });
        }
        let (reason, message) = error_of(&resp);
        match st {
            // The folder's label vanished since it was resolved: the folder stops, not the message.
            StatusCode::BAD_REQUEST if message.starts_with("Invalid label") => {
                Ok(AppendOutcome::Failed {
                    error: EndpointError::NoFolder {
                        op: self.ctx(op),
                        folder: folder.to_string(),
                        server: None,
                    },
                })
            }
            StatusCode::BAD_REQUEST => Ok(AppendOutcome::Refused {
                reason: format!("the Gmail API refused this message: {reason} {message}"),
            }),
            StatusCode::PAYLOAD_TOO_LARGE => Ok(AppendOutcome::Refused {
                reason: format!(
                    "message of {} is too large for the Gmail API (413): {message}; not copied",
                    bytes_iec(raw.len() as u64)
                ),
            }),
            StatusCode::NOT_FOUND => Ok(AppendOutcome::Failed {
                error: EndpointError::NoFolder {
                    op: self.ctx(op),
                    folder: folder.to_string(),
                    server: None,
                },
            }),
            StatusCode::FORBIDDEN if reason.contains("quota") || message.contains("storage") => {
                Ok(AppendOutcome::Failed {
                    error: EndpointError::OverQuota {
                        op: self.ctx(op),
                        message: format!("{reason}: {message}"),
                    },
                })
            }
            _ => Ok(AppendOutcome::Failed {
                error: self.unexpected(op, st, &resp),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_avoids_the_body() {
        let b = boundary_for(b"hello");
        let raw = format!("x {b} y");
        assert_ne!(boundary_for(raw.as_bytes()), b);
    }
}
