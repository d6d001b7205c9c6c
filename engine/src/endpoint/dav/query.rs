//! The calendar-query REPORT (RFC 4791 §7.8) of `[project] calendar_since`: the resources of a
//! calendar with an event that ends on or after a day. The server evaluates recurrences, so
//! a series is listed whole (with its exceptions) when any of its occurrences qualifies.

use chrono::NaiveDate;
use reqwest::Method;

use super::client::DavClient;
use super::wire_types::ItemRef;
use super::xml::{self, DAV};
use crate::endpoint::types::Result;

impl DavClient {
    /// The resources of the calendar `coll` holding an event that ends on or after `since`
    /// (00:00 UTC): href, ETag and size, as [`DavClient::list_items`] gives them.
    pub async fn list_events_since(&self, coll: &str, since: NaiveDate) -> Result<Vec<ItemRef>> {
        let url = self.url(coll)?;
        let m = Method::from_bytes(b"REPORT").expect("REPORT is a valid method token");
        let op = self.op(&m, &url);
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><D:getcontentlength/><D:getcontenttype/></D:prop>
  <C:filter>
    <C:comp-filter name="VCALENDAR">
      <C:comp-filter name="VEVENT">
        <C:time-range start="{}T000000Z"/>
      </C:comp-filter>
    </C:comp-filter>
  </C:filter>
</C:calendar-query>"#,
            since.format("%Y%m%d")
        );
        let req = self
            .request(m, url)
            .header("Depth", "1")
            .header("Content-Type", "application/xml; charset=utf-8")
            .body(body);
        let resp = self.send(req, &op).await?;
        if resp.status().as_u16() == 404 {
            return Err(self.no_collection(resp, &op, coll).await);
        }
        if resp.status().as_u16() != 207 {
            return Err(self.failure(resp, &op).await);
        }
        let ms = self.multistatus(resp, &op).await?;
        Ok(ms
            .responses
            .iter()
            .filter(|r| !r.failed() && !xml::same_href(&r.href, coll))
            .map(|r| ItemRef {
                href: r.href.clone(),
                etag: r.text(DAV, "getetag"),
                size: r.text(DAV, "getcontentlength").and_then(|s| s.parse().ok()),
                content_type: r.text(DAV, "getcontenttype"),
            })
            .collect())
    }
}
