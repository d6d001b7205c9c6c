//! The CalDAV (RFC 4791) and CardDAV (RFC 6352) client of one account on one server: HTTP
//! basic authentication, every reply read within [`MAX_REPLY`], every answer mapped to an
//! [`EndpointError`] naming the URL (and the user when refused). Discovery of the account's
//! homes is in `discovery`.
//!
//! Requests are sent once: a throttle (429, 503) comes back as [`EndpointError::Throttled`]
//! with the server's Retry-After for the engine to wait out, a PUT whose answer was lost is
//! left to the engine to look up (by href, or by UID through a listing), never sent again here.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, ETAG, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, Url};
use secrecy::{ExposeSecret, SecretString};

use super::super::bounded::{self, http_body};
use super::super::retry_after::retry_after;
use super::super::types::{EndpointError, Result};
use super::wire_types::{
    Collection, CollectionKind, ItemData, ItemRef, MAX_REPLY, MULTIGET_CHUNK, PutOutcome, SyncDelta,
};
use super::xml::{self, APPLE_ICAL, CALDAV, CALSERVER, CARDDAV, DAV, Multistatus};
use crate::config;

/// The client of one account's DAV server. Cheap to clone (the HTTP client is shared).
#[derive(Clone)]
pub struct DavClient {
    pub(super) http: reqwest::Client,
    pub(super) base: Url,
    pub(super) user: String,
    password: SecretString,
    /// "source" or "destination", in error messages.
    pub(super) side: &'static str,
    timeout_secs: u64,
}

impl std::fmt::Debug for DavClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DavClient({} at {}, {})",
            self.user, self.base, self.side
        )
    }
}

/// A WebDAV method reqwest has no constant for.
pub(super) fn method(name: &'static str) -> Method {
    Method::from_bytes(name.as_bytes()).expect("a WebDAV method name is a valid token")
}

impl DavClient {
    /// A client for the DAV root `base` (`https://dav.example.com/` or a path under it), as
    /// `user`. `http` is the side's HTTP client, built with [`super::super::http::client`] so
    /// that it honours the endpoint's `ca_file` and timeout; it must follow redirects (the
    /// default), which discovery relies on. `timeout` is the one it was built with (named by
    /// timeout errors).
    pub fn new(
        http: reqwest::Client,
        base: &str,
        user: &str,
        password: SecretString,
        side: &'static str,
        timeout: Duration,
    ) -> Result<DavClient> {
        let mut base = Url::parse(base).map_err(|e| EndpointError::Protocol {
            op: format!("{side} DAV URL"),
            message: format!("{base:?} is not a URL: {e}"),
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(EndpointError::Protocol {
                op: format!("{side} DAV URL"),
                message: format!("{base} is not an http or https URL with a host"),
            });
        }
        // Credentials go in the Authorization header, never in a URL that errors show.
        let _ = base.set_username("");
        let _ = base.set_password(None);
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        Ok(DavClient {
            http,
            base,
            user: user.to_string(),
            password,
            side,
            timeout_secs: timeout.as_secs(),
        })
    }

    /// A client for the DAV root `base` of the endpoint `cfg` (its `ca_file` and
    /// `timeout`), as `user`.
    pub fn for_endpoint(
        cfg: &config::Endpoint,
        base: &str,
        user: &str,
        password: SecretString,
        side: &'static str,
    ) -> Result<DavClient> {
        let http = super::super::http::client(cfg, side, cfg.timeout)?;
        DavClient::new(http, base, user, password, side, cfg.timeout)
    }

    /// The DAV root this client was made for.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The URL of an href (an absolute path, or a whole URL as some servers give).
    pub fn url(&self, href: &str) -> Result<Url> {
        self.base.join(href).map_err(|e| EndpointError::Protocol {
            op: format!("{} DAV", self.side),
            message: format!("the server gave the href {href:?}, which is not a path: {e}"),
        })
    }

    /// The href of a new member `name` of the collection `coll`, percent-encoded.
    pub fn join(&self, coll: &str, name: &str) -> String {
        let sep = if coll.ends_with('/') { "" } else { "/" };
        format!("{coll}{sep}{}", xml::encode_segment(name))
    }

    /// A request with the account's credentials.
    pub(super) fn request(&self, m: Method, url: Url) -> RequestBuilder {
        self.http
            .request(m, url)
            .basic_auth(&self.user, Some(self.password.expose_secret()))
    }

    /// The operation, as errors name it: `PROPFIND http://host/path (source)`.
    pub(super) fn op(&self, m: &Method, url: &Url) -> String {
        format!("{m} {url} ({} DAV)", self.side)
    }

    /// Send a request: its answer, or the transport failure as an endpoint error.
    pub(super) async fn send(&self, req: RequestBuilder, op: &str) -> Result<Response> {
        req.send().await.map_err(|e| self.transport(op, e))
    }

    /// A failed request or body read: an untrusted certificate (TLS, not retried), a
    /// timeout, a connection that could not be made, else a lost one.
    pub(super) fn transport(&self, op: &str, e: reqwest::Error) -> EndpointError {
        let host = self.base.host_str().unwrap_or_default();
        if let Some(tls) = super::super::http::tls_failure(host, &e) {
            tls
        } else if e.is_timeout() {
            EndpointError::Timeout {
                op: op.to_string(),
                secs: self.timeout_secs,
            }
        } else if e.is_connect() {
            EndpointError::Connect {
                addr: self.base.origin().ascii_serialization(),
                source: std::io::Error::other(e.without_url()),
            }
        } else {
            EndpointError::ConnectionLost {
                op: format!("{op}: {}", e.without_url()),
            }
        }
    }

    /// The body of an answer, at most [`MAX_REPLY`].
    pub(super) async fn body(&self, resp: Response, op: &str) -> Result<Vec<u8>> {
        http_body(resp, MAX_REPLY, "a DAV reply")
            .await
            .map_err(|e| e.into_endpoint(op, |e| self.transport(op, e)))
    }

    /// The error of an answer that is not what `op` expects: refused login (401/403), a
    /// throttle (429/503), a server error (5xx, transient), else a protocol error with the
    /// server's words.
    pub(super) async fn failure(&self, resp: Response, op: &str) -> EndpointError {
        let status = resp.status();
        let wait = retry_after(resp.headers());
        let text = server_words(&bounded::error_body(resp).await);
        let said = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!(": {s}")
            }
        };
        match status.as_u16() {
            401 | 403 => EndpointError::Auth {
                user: self.user.clone(),
                message: format!("{op}: the DAV server answered {status}{}", said(&text)),
            },
            429 | 503 => EndpointError::Throttled {
                op: op.to_string(),
                message: format!("{status}{}", said(&text)),
                wait,
            },
            500 | 502 | 504 => EndpointError::ConnectionLost {
                op: format!("{op}: the server answered {status}{}", said(&text)),
            },
            _ => EndpointError::Protocol {
                op: op.to_string(),
                message: format!("unexpected answer {status}{}", said(&text)),
            },
        }
    }

    /// A 404 on the collection `coll`: it does not exist.
    pub(super) async fn no_collection(
        &self,
        resp: Response,
        op: &str,
        coll: &str,
    ) -> EndpointError {
        let text = server_words(&bounded::error_body(resp).await);
        EndpointError::NoFolder {
            op: op.to_string(),
            folder: coll.to_string(),
            server: (!text.is_empty()).then_some(text),
        }
    }

    /// A 207 reply read as a multistatus.
    /// Hrefs of the responses are made [`absolute`](Self::absolute) against the URL that
    /// answered (after redirects).
    pub(super) async fn multistatus(&self, resp: Response, op: &str) -> Result<Multistatus> {
        let at = resp.url().clone();
        let bytes = self.body(resp, op).await?;
        let mut ms = xml::multistatus(&bytes).map_err(|message| EndpointError::Protocol {
            op: op.to_string(),
            message,
        })?;
        for r in &mut ms.responses {
            r.href = self.absolute(&at, &r.href);
        }
        Ok(ms)
    }

    /// An href from an answer of `at`, as this client keeps hrefs: an absolute path as the
    /// server wrote it when it is on the DAV root's server (a relative one resolved), else
    /// the whole URL (a server that sends its calendars elsewhere).
    pub(super) fn absolute(&self, at: &Url, href: &str) -> String {
        match at.join(href) {
            Ok(u) if u.origin() == self.base.origin() => {
                if href.starts_with('/') {
                    href.to_string()
                } else {
                    u.path().to_string()
                }
            }
            Ok(u) => u.to_string(),
            Err(_) => href.to_string(),
        }
    }

    /// PROPFIND `props` on `href` with this Depth: the multistatus, a 404 as NoFolder.
    pub(super) async fn propfind(
        &self,
        href: &str,
        depth: &'static str,
        props: &[xml::Prop],
    ) -> Result<Multistatus> {
        let url = self.url(href)?;
        let m = method("PROPFIND");
        let op = self.op(&m, &url);
        let req = self
            .request(m, url)
            .header("Depth", depth)
            .header(CONTENT_TYPE, XML)
            .body(xml::propfind(props));
        let resp = self.send(req, &op).await?;
        match resp.status().as_u16() {
            207 => self.multistatus(resp, &op).await,
            404 => Err(self.no_collection(resp, &op, href).await),
            _ => Err(self.failure(resp, &op).await),
        }
    }

    /// Whether the collection `href` exists (a Depth 0 PROPFIND).
    async fn exists(&self, href: &str) -> Result<bool> {
        match self.propfind(href, "0", &[(DAV, "resourcetype")]).await {
            Ok(_) => Ok(true),
            Err(EndpointError::NoFolder { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The calendars and address books in a home (a Depth 1 PROPFIND); other collections
    /// and the home itself are left out.
    pub async fn list_collections(&self, home: &str) -> Result<Vec<Collection>> {
        let ms = self.propfind(home, "1", COLLECTION_PROPS).await?;
        let mut out = Vec::new();
        for r in &ms.responses {
            let Some(rt) = r.prop(DAV, "resourcetype") else {
                continue;
            };
            let kind = if rt.child(CALDAV, "calendar").is_some() {
                CollectionKind::Calendar
            } else if rt.child(CARDDAV, "addressbook").is_some() {
                CollectionKind::AddressBook
            } else {
                continue;
            };
            if xml::same_href(&r.href, home) {
                continue;
            }
            let components = r
                .prop(CALDAV, "supported-calendar-component-set")
                .filter(|_| kind == CollectionKind::Calendar)
                .map(|s| {
                    s.children_named(CALDAV, "comp")
                        .filter_map(|c| c.attr("name").map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            out.push(Collection {
                href: r.href.clone(),
                kind,
                displayname: r.text(DAV, "displayname"),
                ctag: r.text(CALSERVER, "getctag"),
                sync_token: r.text(DAV, "sync-token"),
                components,
                color: r.text(APPLE_ICAL, "calendar-color"),
                description: r
                    .text(CALDAV, "calendar-description")
                    .or_else(|| r.text(CARDDAV, "addressbook-description")),
            });
        }
        Ok(out)
    }

    /// The resources of a collection (a Depth 1 PROPFIND): href, ETag, size, media type.
    /// The collection itself and any collection inside it are left out.
    pub async fn list_items(&self, coll: &str) -> Result<Vec<ItemRef>> {
        let ms = self.propfind(coll, "1", ITEM_PROPS).await?;
        Ok(ms
            .responses
            .iter()
            .filter(|r| !r.failed() && !xml::same_href(&r.href, coll))
            .filter(|r| {
                r.prop(DAV, "resourcetype")
                    .is_none_or(|rt| rt.child(DAV, "collection").is_none())
            })
            .map(|r| ItemRef {
                href: r.href.clone(),
                etag: r.text(DAV, "getetag"),
                size: r.text(DAV, "getcontentlength").and_then(|s| s.parse().ok()),
                content_type: r.text(DAV, "getcontenttype"),
            })
            .collect())
    }

    /// The resources `hrefs` of the collection `coll`, by calendar-multiget or
    /// addressbook-multiget REPORTs of at most [`MULTIGET_CHUNK`] hrefs (by GETs when the
    /// server refuses the REPORT with 400, 405 or 501). A resource the server reports
    /// missing (404) is absent from the result.
    pub async fn get_items(
        &self,
        coll: &str,
        kind: CollectionKind,
        hrefs: &[String],
    ) -> Result<Vec<ItemData>> {
        let url = self.url(coll)?;
        let m = method("REPORT");
        let op = self.op(&m, &url);
        let (data_ns, data) = data_prop(kind);
        let mut out = Vec::with_capacity(hrefs.len());
        for chunk in hrefs.chunks(MULTIGET_CHUNK) {
            let req = self
                .request(m.clone(), url.clone())
                .header("Depth", "1")
                .header(CONTENT_TYPE, XML)
                .body(xml::multiget(kind, chunk));
            let resp = self.send(req, &op).await?;
            let ms = match resp.status().as_u16() {
                207 => self.multistatus(resp, &op).await?,
                404 => return Err(self.no_collection(resp, &op, coll).await),
                // No multiget on this server (RFC 4791 makes it mandatory; some lack it):
                // one GET per resource.
                400 | 405 | 501 => {
                    for h in chunk {
                        out.extend(self.get_item(h).await?);
                    }
                    continue;
                }
                _ => return Err(self.failure(resp, &op).await),
            };
            for r in ms.responses {
                if r.failed() {
                    continue;
                }
                let Some(body) = r.prop(data_ns, data) else {
                    continue;
                };
                out.push(ItemData {
                    etag: r.text(DAV, "getetag"),
                    body: body.text.trim_start().as_bytes().to_vec(),
                    href: r.href,
                });
            }
        }
        Ok(out)
    }

    /// One resource by GET; None when it does not exist (404, 410).
    pub async fn get_item(&self, href: &str) -> Result<Option<ItemData>> {
        let url = self.url(href)?;
        let op = self.op(&Method::GET, &url);
        let resp = self.send(self.request(Method::GET, url), &op).await?;
        match resp.status().as_u16() {
            200 => {
                let etag = etag(resp.headers());
                let body = self.body(resp, &op).await?;
                Ok(Some(ItemData {
                    href: href.to_string(),
                    etag,
                    body,
                }))
            }
            404 | 410 => Ok(None),
            _ => Err(self.failure(resp, &op).await),
        }
    }

    /// The events (of a calendar) or contacts whose UID is exactly `uid`, with their data
    /// (a calendar-query or addressbook-query REPORT, then the data checked): where a create
    /// whose answer was lost, or a [`PutOutcome::UidConflict`], left it.
    pub async fn find_uid(
        &self,
        coll: &str,
        kind: CollectionKind,
        uid: &str,
    ) -> Result<Vec<ItemData>> {
        let url = self.url(coll)?;
        let m = method("REPORT");
        let op = self.op(&m, &url);
        let req = self
            .request(m, url)
            .header("Depth", "1")
            .header(CONTENT_TYPE, XML)
            .body(xml::uid_query(kind, uid));
        let resp = self.send(req, &op).await?;
        let ms = match resp.status().as_u16() {
            207 => self.multistatus(resp, &op).await?,
            404 => return Err(self.no_collection(resp, &op, coll).await),
            _ => return Err(self.failure(resp, &op).await),
        };
        let (data_ns, data) = data_prop(kind);
        Ok(ms
            .responses
            .into_iter()
            .filter(|r| !r.failed())
            .filter_map(|r| {
                let body = r.prop(data_ns, data)?.text.trim_start().to_string();
                xml::has_uid(&body, uid).then(|| ItemData {
                    etag: r.text(DAV, "getetag"),
                    body: body.into_bytes(),
                    href: r.href,
                })
            })
            .collect())
    }

    /// Create the resource `href` with `body`, only if nothing is there yet
    /// (`If-None-Match: *`): a create whose answer was lost can be sent again without
    /// overwriting anything.
    pub async fn put_new(
        &self,
        href: &str,
        kind: CollectionKind,
        body: &[u8],
    ) -> Result<PutOutcome> {
        self.put(href, kind, body, ("If-None-Match", "*")).await
    }

    /// Replace the resource `href`, only if its ETag is still `etag` (`If-Match`).
    pub async fn put_replace(
        &self,
        href: &str,
        kind: CollectionKind,
        body: &[u8],
        etag: &str,
    ) -> Result<PutOutcome> {
        self.put(href, kind, body, ("If-Match", etag)).await
    }

    async fn put(
        &self,
        href: &str,
        kind: CollectionKind,
        body: &[u8],
        condition: (&'static str, &str),
    ) -> Result<PutOutcome> {
        let url = self.url(href)?;
        let op = self.op(&Method::PUT, &url);
        let value = HeaderValue::from_str(condition.1).map_err(|_| EndpointError::Protocol {
            op: op.clone(),
            message: format!("the ETag {:?} cannot be sent in a header", condition.1),
        })?;
        let req = self
            .request(Method::PUT, url)
            .header(condition.0, value)
            .header(CONTENT_TYPE, kind.content_type())
            .body(body.to_vec());
        let resp = self.send(req, &op).await?;
        let status = resp.status();
        match status.as_u16() {
            200 | 201 | 204 => Ok(PutOutcome::Stored {
                etag: etag(resp.headers()),
            }),
            412 => Ok(PutOutcome::PreconditionFailed),
            404 => Err(self.no_collection(resp, &op, parent(href)).await),
            400 | 403 | 409 | 413 | 415 => {
                let code = status.as_u16();
                let body = bounded::error_body(resp).await;
                if matches!(code, 403 | 409)
                    && let Some(href) = xml::uid_conflict(&body)
                {
                    return Ok(PutOutcome::UidConflict { href });
                }
                let words = server_words(&body);
                // Radicale answers 409 for a PUT into a collection that does not exist.
                if code == 409 && !self.exists(parent(href)).await? {
                    return Err(EndpointError::NoFolder {
                        op,
                        folder: parent(href).to_string(),
                        server: (!words.is_empty()).then_some(words),
                    });
                }
                Ok(PutOutcome::Refused {
                    status: code,
                    reason: if words.is_empty() {
                        status.to_string()
                    } else {
                        format!("{status}: {words}")
                    },
                })
            }
            _ => Err(self.failure(resp, &op).await),
        }
    }

    /// Delete the resource `href` (only if its ETag is still `etag`, when given): false when
    /// it was not there (404). A changed ETag (412) is an error naming the resource.
    pub async fn delete_item(&self, href: &str, etag: Option<&str>) -> Result<bool> {
        let url = self.url(href)?;
        let op = self.op(&Method::DELETE, &url);
        let mut req = self.request(Method::DELETE, url);
        if let Some(e) = etag {
            req = req.header("If-Match", e);
        }
        let resp = self.send(req, &op).await?;
        match resp.status().as_u16() {
            200 | 202 | 204 => Ok(true),
            404 | 410 => Ok(false),
            412 => Err(EndpointError::Protocol {
                op,
                message: format!(
                    "not deleted: the resource changed since it was read (ETag no longer {})",
                    etag.unwrap_or("?")
                ),
            }),
            _ => Err(self.failure(resp, &op).await),
        }
    }

    /// Delete the resource `href` only if its ETag is still `etag`: false when it changed
    /// since (412), true when deleted or already gone.
    pub async fn delete_unchanged(&self, href: &str, etag: &str) -> Result<bool> {
        let url = self.url(href)?;
        let op = self.op(&Method::DELETE, &url);
        let req = self.request(Method::DELETE, url).header("If-Match", etag);
        let resp = self.send(req, &op).await?;
        match resp.status().as_u16() {
            200 | 202 | 204 | 404 | 410 => Ok(true),
            412 => Ok(false),
            _ => Err(self.failure(resp, &op).await),
        }
    }

    /// Create the collection `href`: MKCALENDAR for a calendar of events, an extended MKCOL
    /// (RFC 5689) for an address book, named `displayname`. False when something already
    /// exists there (405).
    pub async fn make_collection(
        &self,
        href: &str,
        kind: CollectionKind,
        displayname: &str,
    ) -> Result<bool> {
        let url = self.url(href)?;
        let m = match kind {
            CollectionKind::Calendar => method("MKCALENDAR"),
            CollectionKind::AddressBook => method("MKCOL"),
        };
        let op = self.op(&m, &url);
        let req = self
            .request(m, url)
            .header(CONTENT_TYPE, XML)
            .body(xml::make_collection(kind, displayname));
        let resp = self.send(req, &op).await?;
        match resp.status().as_u16() {
            200 | 201 | 204 => Ok(true),
            // RFC 4918 9.3.1 (MKCOL on an existing resource).
            405 => Ok(false),
            403 | 409 => {
                let status = resp.status();
                let text = server_words(&bounded::error_body(resp).await);
                // RFC 4791 5.3.1.1 / RFC 5689 3.5: the precondition a server names when
                // something is there already.
                if text.contains("resource-must-be-null") {
                    Ok(false)
                } else if status.as_u16() == 409 {
                    Err(EndpointError::Protocol {
                        op,
                        message: format!(
                            "the parent collection does not exist ({status}{})",
                            if text.is_empty() {
                                String::new()
                            } else {
                                format!(": {text}")
                            }
                        ),
                    })
                } else {
                    Err(EndpointError::Auth {
                        user: self.user.clone(),
                        message: format!("{op}: the DAV server answered {status}: {text}"),
                    })
                }
            }
            _ => Err(self.failure(resp, &op).await),
        }
    }

    /// Delete the collection `href` and everything in it: false when it was not there.
    pub async fn delete_collection(&self, href: &str) -> Result<bool> {
        self.delete_item(href, None).await
    }

    /// What changed in `coll` since `token` (RFC 6578 sync-collection; all its resources
    /// without a token). None when the server does not support it or no longer accepts the
    /// token: the caller then lists the collection.
    pub async fn sync_changes(&self, coll: &str, token: Option<&str>) -> Result<Option<SyncDelta>> {
        let url = self.url(coll)?;
        let m = method("REPORT");
        let op = self.op(&m, &url);
        let req = self
            .request(m, url)
            .header("Depth", "0")
            .header(CONTENT_TYPE, XML)
            .body(xml::sync_collection(token));
        let resp = self.send(req, &op).await?;
        let ms = match resp.status().as_u16() {
            207 => self.multistatus(resp, &op).await?,
            404 => return Err(self.no_collection(resp, &op, coll).await),
            // Unsupported (400, 405, 415, 501) or an invalid token (403, 409 with
            // DAV:valid-sync-token).
            400 | 403 | 405 | 409 | 415 | 501 => return Ok(None),
            _ => return Err(self.failure(resp, &op).await),
        };
        let Some(token) = ms.sync_token else {
            return Err(EndpointError::Protocol {
                op,
                message: "a sync-collection reply without a DAV:sync-token".into(),
            });
        };
        let mut delta = SyncDelta {
            token,
            ..SyncDelta::default()
        };
        for r in ms.responses {
            if xml::same_href(&r.href, coll) {
                delta.truncated |= r.status == Some(507);
                continue;
            }
            match r.status {
                Some(404) => delta.removed.push(r.href),
                Some(s) if !(200..300).contains(&s) => {}
                _ => delta.changed.push(ItemRef {
                    etag: r.text(DAV, "getetag"),
                    href: r.href,
                    size: None,
                    content_type: None,
                }),
            }
        }
        Ok(Some(delta))
    }
}

/// The media type of the request bodies.
pub(super) const XML: &str = "application/xml; charset=utf-8";

const COLLECTION_PROPS: &[xml::Prop] = &[
    (DAV, "resourcetype"),
    (DAV, "displayname"),
    (CALSERVER, "getctag"),
    (DAV, "sync-token"),
    (CALDAV, "supported-calendar-component-set"),
    (APPLE_ICAL, "calendar-color"),
    (CALDAV, "calendar-description"),
    (CARDDAV, "addressbook-description"),
];

const ITEM_PROPS: &[xml::Prop] = &[
    (DAV, "resourcetype"),
    (DAV, "getetag"),
    (DAV, "getcontentlength"),
    (DAV, "getcontenttype"),
];

/// The property holding a resource's data in a REPORT answer.
fn data_prop(kind: CollectionKind) -> (&'static str, &'static str) {
    match kind {
        CollectionKind::Calendar => (CALDAV, "calendar-data"),
        CollectionKind::AddressBook => (CARDDAV, "address-data"),
    }
}

/// The collection an href is in (`/a/cal/x.ics` -> `/a/cal/`).
fn parent(href: &str) -> &str {
    let t = href.trim_end_matches('/');
    match t.rfind('/') {
        Some(i) => &t[..=i],
        None => "/",
    }
}

/// The ETag header of an answer.
fn etag(h: &HeaderMap) -> Option<String> {
    h.get(ETAG)?.to_str().ok().map(str::to_string)
}

/// The start of an error body, on one line, for a message (at most 300 characters).
fn server_words(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match one.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &one[..i]),
        None => one,
    }
}
