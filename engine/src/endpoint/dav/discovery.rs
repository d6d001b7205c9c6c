//! Discovery of an account's calendar and address book homes (RFC 6764 section 6, RFC 4791
//! section 6.2.1, RFC 6352 section 7.1.1): PROPFIND DAV:current-user-principal on
//! `/.well-known/caldav`, else `/.well-known/carddav`, else the DAV root (redirects followed,
//! to another server too); then the home sets on the principal; then OPTIONS on the calendar
//! home for the scheduling capability (RFC 6638).

use reqwest::{Method, RequestBuilder, StatusCode, Url};

use super::super::types::{EndpointError, Result};
use super::client::{DavClient, XML, method};
use super::wire_types::Homes;
use super::xml::{self, CALDAV, CARDDAV, DAV};

impl DavClient {
    /// The account's principal and homes, and whether the server schedules by itself.
    /// Hrefs are paths on the DAV root's server, or whole URLs when discovery led elsewhere.
    pub async fn discover(&self) -> Result<Homes> {
        let principal = self.principal().await?;
        let url = self.url(&principal)?;
        let m = propfind();
        let op = self.op(&m, &url);
        let req = self
            .request(m, url.clone())
            .header("Depth", "0")
            .header(reqwest::header::CONTENT_TYPE, XML)
            .body(xml::propfind(&[
                (CALDAV, "calendar-home-set"),
                (CARDDAV, "addressbook-home-set"),
            ]));
        let resp = self.send(req, &op).await?;
        match resp.status().as_u16() {
            207 => {}
            404 => return Err(self.no_collection(resp, &op, &principal).await),
            _ => return Err(self.failure(resp, &op).await),
        }
        let at = resp.url().clone();
        let ms = self.multistatus(resp, &op).await?;
        let r = ms
            .responses
            .iter()
            .find(|r| xml::same_href(&r.href, &principal))
            .or(ms.responses.first());
        let home = |ns, name| {
            let h = r.and_then(|r| r.prop(ns, name))?.href()?;
            Some(self.absolute(&at, &h))
        };
        let calendar_home = home(CALDAV, "calendar-home-set");
        let addressbook_home = home(CARDDAV, "addressbook-home-set");
        if calendar_home.is_none() && addressbook_home.is_none() {
            return Err(EndpointError::Protocol {
                op,
                message: format!(
                    "the principal of {} names neither a calendar home nor an address book home",
                    self.user
                ),
            });
        }
        let scheduling = match &calendar_home {
            Some(h) => self.auto_schedules(h).await?,
            None => false,
        };
        Ok(Homes {
            principal,
            calendar_home,
            addressbook_home,
            scheduling,
        })
    }

    /// The href of the account's principal: from the first of the well-known URLs and the
    /// DAV root that answers with one.
    async fn principal(&self) -> Result<String> {
        let mut tried = Vec::new();
        for start in ["/.well-known/caldav", "/.well-known/carddav", ""] {
            let url = if start.is_empty() {
                self.base.clone()
            } else {
                self.url(start)?
            };
            match self.principal_at(url.clone()).await? {
                Some(p) => return Ok(p),
                None => tried.push(url.to_string()),
            }
        }
        Err(EndpointError::Protocol {
            op: format!("discovery ({} DAV)", self.side),
            message: format!(
                "no DAV:current-user-principal for {} at {}",
                self.user,
                tried.join(", ")
            ),
        })
    }

    /// The current-user-principal PROPFIND at `url` (redirects followed): the href, None
    /// when this URL gives none (not found, not DAV, no such property). A refused login or
    /// a network failure is an error.
    async fn principal_at(&self, url: Url) -> Result<Option<String>> {
        let op = self.op(&propfind(), &url);
        let mut resp = self.send(self.principal_request(url.clone()), &op).await?;
        let there = resp.url().clone();
        if resp.status() == StatusCode::UNAUTHORIZED
            && there.origin() != url.origin()
            && (there.scheme() == "https" || self.base.scheme() == "http")
        {
            // Redirected to another server, which the HTTP client (rightly) did not give the
            // credentials: ask that server itself, with them (never over plain HTTP when the
            // DAV root is HTTPS).
            resp = self.send(self.principal_request(there), &op).await?;
        }
        match resp.status().as_u16() {
            207 => {}
            401 | 403 | 429 | 503 => return Err(self.failure(resp, &op).await),
            _ => return Ok(None),
        }
        // The answer of the URL redirected to: its hrefs are relative to it.
        let at = resp.url().clone();
        let ms = self.multistatus(resp, &op).await?;
        let Some(p) = ms
            .responses
            .iter()
            .find_map(|r| r.prop(DAV, "current-user-principal")?.href())
        else {
            return Ok(None);
        };
        Ok(Some(self.absolute(&at, &p)))
    }

    fn principal_request(&self, url: Url) -> RequestBuilder {
        self.request(propfind(), url)
            .header("Depth", "0")
            .header(reqwest::header::CONTENT_TYPE, XML)
            .body(xml::propfind(&[(DAV, "current-user-principal")]))
    }

    /// Whether the DAV header of the calendar home announces `calendar-auto-schedule`.
    async fn auto_schedules(&self, home: &str) -> Result<bool> {
        let url = self.url(home)?;
        let op = self.op(&Method::OPTIONS, &url);
        let resp = self.send(self.request(Method::OPTIONS, url), &op).await?;
        if !resp.status().is_success() {
            return Err(self.failure(resp, &op).await);
        }
        Ok(resp
            .headers()
            .get_all("DAV")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|c| c.trim().eq_ignore_ascii_case("calendar-auto-schedule")))
    }
}

fn propfind() -> Method {
    method("PROPFIND")
}
