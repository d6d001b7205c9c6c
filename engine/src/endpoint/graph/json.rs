//! The JSON path of writing a message: rebuilt from its parsed parts with the MAPI
//! properties for read state, dates and transport headers, then its attachments one by one
//! (upload sessions from 3 MB), marked unfinished until the last one is in.

use base64::Engine as _;
use chrono::DateTime;
use mail_parser::{MessageParser, MimeHeaders};
use reqwest::Method;
use serde_json::{Value, json};

use super::connector::GraphSession;
use super::types::{
    ATTACH_INLINE_MAX, BUILDING_PROP, CHUNK, DELIVERY_PROP, FINGERPRINT_PROP, FLAGS_PROP,
    HEADERS_PROP, SUBMIT_PROP,
};
use super::wire::{enc, failure, find_header_end, graph_time};
use crate::endpoint::bounded;
use crate::endpoint::types::{EndpointError, Message, Result};

impl GraphSession {
    /// The JSON path: the message rebuilt from its parts, then its attachments.
    pub(super) async fn create_json(
        &self,
        folder_id: &str,
        m: &Message,
        fp: &str,
    ) -> Result<String> {
        let raw = m.body.bytes();
        let Some(parsed) = MessageParser::default().parse(raw) else {
            return Err(EndpointError::No {
                op: "parse".into(),
                message: "not a readable RFC 5322 message".into(),
            });
        };
        let addrs = |a: Option<&mail_parser::Address>| -> Vec<Value> {
            a.map(|a| {
                a.iter()
                    .filter_map(|x| {
                        let address = x.address()?;
                        Some(json!({"emailAddress": {"address": address, "name": x.name().unwrap_or(address)}}))
                    })
                    .collect()
            })
            .unwrap_or_default()
        };
        let (ctype, content) = match parsed.body_html(0) {
            Some(h) => ("html", h.into_owned()),
            None => (
                "text",
                parsed
                    .body_text(0)
                    .map(|t| t.into_owned())
                    .unwrap_or_default(),
            ),
        };
        let seen = m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Seen"));
        let header_end = find_header_end(raw);
        let headers = String::from_utf8_lossy(&raw[..header_end]).into_owned();
        // With attachments still to add, the message is marked unfinished; its fingerprint
        // (what makes it the copy for resume and verification) is set once all are in.
        let has_attachments = parsed.attachments().next().is_some();
        let mark = if has_attachments {
            BUILDING_PROP
        } else {
            FINGERPRINT_PROP
        };
        let mut props = vec![
            json!({"id": FLAGS_PROP, "value": if seen { "1" } else { "0" }}),
            json!({"id": HEADERS_PROP, "value": headers}),
            json!({"id": mark, "value": fp}),
        ];
        let delivered = m.internal_date.or_else(|| {
            parsed
                .date()
                .and_then(|d| DateTime::parse_from_rfc3339(&d.to_rfc3339()).ok())
        });
        if let Some(d) = delivered {
            props.push(json!({"id": DELIVERY_PROP, "value": graph_time(&d)}));
        }
        if let Some(d) = parsed
            .date()
            .and_then(|d| DateTime::parse_from_rfc3339(&d.to_rfc3339()).ok())
        {
            props.push(json!({"id": SUBMIT_PROP, "value": graph_time(&d)}));
        }
        let mut msg = json!({
            "subject": parsed.subject().unwrap_or(""),
            "body": {"contentType": ctype, "content": content},
            "toRecipients": addrs(parsed.to()),
            "ccRecipients": addrs(parsed.cc()),
            "bccRecipients": addrs(parsed.bcc()),
            "isRead": seen,
            "flag": {"flagStatus": if m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Flagged")) { "flagged" } else { "notFlagged" }},
            "singleValueExtendedProperties": props,
        });
        if let Some(f) = addrs(parsed.from()).into_iter().next() {
            msg["from"] = f.clone();
            msg["sender"] = f;
        }
        if let Some(id) = parsed.message_id() {
            msg["internetMessageId"] = json!(format!("<{id}>"));
        }
        let (_, created) = self
            .call(
                "create message",
                Method::POST,
                &self.url(&format!("/mailFolders/{}/messages", enc(folder_id))),
                Some(&msg),
            )
            .await?;
        let id = created["id"]
            .as_str()
            .ok_or_else(|| EndpointError::Protocol {
                op: "create message".into(),
                message: "Graph's answer has no id".into(),
            })?
            .to_string();
        for part in parsed.attachments() {
            let name = part
                .attachment_name()
                .unwrap_or(if part.is_message() {
                    "message.eml"
                } else {
                    "attachment"
                })
                .to_string();
            let ct = part
                .content_type()
                .map(|c| match c.subtype() {
                    Some(s) => format!("{}/{s}", c.ctype()),
                    None => c.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into());
            let bytes = part.contents();
            if let Err(e) = self.attach(&id, &name, &ct, part.content_id(), bytes).await {
                // Half a message must not stay behind as if it were the copy.
                let _ = self
                    .call(
                        "remove incomplete message",
                        Method::POST,
                        &self.url(&format!("/messages/{}/permanentDelete", enc(&id))),
                        None,
                    )
                    .await;
                return Err(e);
            }
        }
        if has_attachments {
            self.call(
                "complete message",
                Method::PATCH,
                &self.url(&format!("/messages/{}", enc(&id))),
                Some(&json!({
                    "singleValueExtendedProperties": [{"id": FINGERPRINT_PROP, "value": fp}],
                })),
            )
            .await?;
        }
        Ok(id)
    }

    pub(super) async fn attach(
        &self,
        id: &str,
        name: &str,
        ctype: &str,
        cid: Option<&str>,
        bytes: &[u8],
    ) -> Result<()> {
        if bytes.len() < ATTACH_INLINE_MAX {
            let mut a = json!({
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": name,
                "contentType": ctype,
                "contentBytes": base64::engine::general_purpose::STANDARD.encode(bytes),
            });
            if let Some(c) = cid {
                a["contentId"] = json!(c);
                a["isInline"] = json!(true);
            }
            self.call(
                "add attachment",
                Method::POST,
                &self.url(&format!("/messages/{}/attachments", enc(id))),
                Some(&a),
            )
            .await?;
            return Ok(());
        }
        let (_, s) = self
            .call(
                "create upload session",
                Method::POST,
                &self.url(&format!("/messages/{}/attachments/createUploadSession", enc(id))),
                Some(&json!({"AttachmentItem": {
                    "attachmentType": "file", "name": name, "size": bytes.len(), "contentType": ctype,
                }})),
            )
            .await?;
        let Some(upload_url) = s["uploadUrl"].as_str().map(str::to_string) else {
            return Err(EndpointError::Protocol {
                op: "create upload session".into(),
                message: "Graph's answer has no uploadUrl".into(),
            });
        };
        let total = bytes.len();
        let mut start = 0;
        while start < total {
            let end = (start + CHUNK).min(total);
            let chunk = bytes[start..end].to_vec();
            let range = format!("bytes {start}-{}/{total}", end - 1);
            let op = "upload attachment";
            // The upload URL carries its own credential: no Authorization header.
            let r = self
                .c
                .send(&self.upn, op, chunk.len() as u64, false, || {
                    self.c
                        .http
                        .put(&upload_url)
                        .header("Content-Range", range.clone())
                        .header("Content-Type", "application/octet-stream")
                        .body(chunk.clone())
                })
                .await?;
            let status = r.status;
            let body = bounded::http_body(r.resp, bounded::JSON_CAP, "a Graph API answer")
                .await
                .map_err(|e| e.into_endpoint(op, |e| self.c.http_err(op, e)))?;
            if !status.is_success() {
                return Err(failure(&self.upn, op, status, &body));
            }
            start = end;
        }
        Ok(())
    }
}
