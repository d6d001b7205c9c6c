//! Graph's limits per app and mailbox, kept on this side (requests at once, requests per
//! 10 minutes, bytes uploaded per 5 minutes), and Graph's rules for the REST layer
//! ([`crate::endpoint::rest`]): which answers are throttling (429/503/504), how long they are
//! waited out, which are not sent again (a POST failed after it was sent), and what the
//! console is told per mailbox.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::wire::error_text;
use crate::endpoint::bounded;
use crate::endpoint::rest::{ErrorText, Judged, Policy};
use crate::endpoint::types::{EndpointError, MAX_RETRY_AFTER, Result};

/// The per app-and-mailbox limits Exchange Online applies to Graph, kept on this side (the
/// project's `graph_limits`, Microsoft's figures by default), and how this side keeps them.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The service's limits per mailbox (`graph_limits`).
    pub service: crate::config::GraphLimits,
    pub max_request: u64,
    /// Throttled answers (429/503/504) retried in a row before giving up with `Throttled`.
    pub max_retries: u32,
}

impl Limits {
    pub fn new(l: &crate::config::GraphLimits) -> Limits {
        Limits {
            service: *l,
            max_request: 4 * 1024 * 1024,
            max_retries: 8,
        }
    }

    /// How much longer than a window this side waits before it counts a request as out of it:
    /// the service stamps a request when it has received it, after this side sent it, and the
    /// two clocks are not the same clock. 1% of the window, at most 3 s (Exchange Online's 5
    /// minutes: 3 s, a cost of 1% of the ceiling for no 429 at each window's turn).
    fn margin(window: Duration) -> Duration {
        (window / 100).min(Duration::from_secs(3))
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::new(&crate::config::GraphLimits::default())
    }
}

/// Sliding windows and the server's last word, for one mailbox.
#[derive(Default)]
pub(super) struct Window {
    requests: VecDeque<Instant>,
    uploads: VecDeque<(Instant, u64)>,
    uploaded: u64,
    /// No request before this (the server's Retry-After).
    pub(super) server_until: Option<Instant>,
    /// When this mailbox was last held back, and why (for the console).
    pub(super) last_throttle: Option<(Instant, String)>,
}

impl Window {
    /// How long a request uploading `bytes` must wait; when it need not, it is counted.
    pub(super) fn admit(
        &mut self,
        now: Instant,
        bytes: u64,
        l: &Limits,
    ) -> Option<(Duration, &'static str)> {
        let l = &l.service;
        let requests_window = l.requests_window + Limits::margin(l.requests_window);
        let upload_window = l.upload_window + Limits::margin(l.upload_window);
        while self
            .requests
            .front()
            .is_some_and(|t| now.duration_since(*t) >= requests_window)
        {
            self.requests.pop_front();
        }
        while let Some(&(t, b)) = self.uploads.front() {
            if now.duration_since(t) < upload_window {
                break;
            }
            self.uploaded -= b;
            self.uploads.pop_front();
        }
        if let Some(u) = self.server_until
            && u > now
        {
            return Some((u - now, "the service asked to wait (Retry-After)"));
        }
        if self.requests.len() >= l.requests as usize
            && let Some(t) = self.requests.front()
        {
            return Some((
                (*t + requests_window).saturating_duration_since(now),
                "local limit: requests per window (graph_limits.requests)",
            ));
        }
        if bytes > 0
            && self.uploaded + bytes > l.upload_bytes
            && let Some((t, _)) = self.uploads.front()
        {
            return Some((
                (*t + upload_window).saturating_duration_since(now),
                "local limit: bytes uploaded per window (graph_limits.upload)",
            ));
        }
        self.requests.push_back(now);
        if bytes > 0 {
            self.uploads.push_back((now, bytes));
            self.uploaded += bytes;
        }
        None
    }

    /// The request admitted at `then` is sent only `now` (it waited for one of the mailbox's
    /// request slots): counted from now, as the service counts it, so that the window does
    /// not let the next ones go before the service does.
    pub(super) fn restamp(&mut self, then: Instant, bytes: u64, now: Instant) {
        if let Some(i) = self.requests.iter().rposition(|t| *t == then) {
            self.requests.remove(i);
            self.requests.push_back(now);
        }
        if bytes > 0
            && let Some(i) = self.uploads.iter().rposition(|u| *u == (then, bytes))
        {
            self.uploads.remove(i);
            self.uploads.push_back((now, bytes));
        }
    }
}

/// One mailbox's request slots and windows, shared by the sessions of a connector.
pub(super) struct MailboxLimiter {
    pub(super) permits: Arc<Semaphore>,
    pub(super) window: Mutex<Window>,
}

/// An answer that is not a throttle or an authentication failure.
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) resp: reqwest::Response,
    _permit: OwnedSemaphorePermit,
}

/// Graph's rules for one request of mailbox `upn` (see the module notes).
pub(super) struct GraphCall<'a> {
    pub(super) limiter: Arc<MailboxLimiter>,
    pub(super) limits: &'a Limits,
    pub(super) side: &'static str,
    pub(super) upn: &'a str,
    pub(super) op: &'a str,
    /// The bytes the request carries (for the upload window).
    pub(super) upload: u64,
}

impl Policy for GraphCall<'_> {
    type Slot = OwnedSemaphorePermit;
    type Out = Reply;

    async fn admit(&self) -> OwnedSemaphorePermit {
        let lim = &self.limiter;
        // Local windows and the server's last Retry-After first, without a slot held.
        let admitted = loop {
            let wait = {
                let mut w = lim.window.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                let r = w.admit(now, self.upload, self.limits);
                // A wait the service asked for is shown with the service's answer.
                if let Some((_, why)) = &r
                    && why.starts_with("local")
                {
                    w.last_throttle = Some((now, (*why).to_string()));
                }
                match r {
                    None => break now,
                    Some((d, _)) => d,
                }
            };
            tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
        };
        let permit = lim
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("mailbox semaphore is never closed");
        let now = Instant::now();
        if now > admitted {
            lim.window
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .restamp(admitted, self.upload, now);
        }
        permit
    }

    async fn refusal(&self, resp: Response) -> Result<ErrorText> {
        let body = bounded::error_body(resp).await;
        let (code, message) = error_text(&body);
        Ok(ErrorText { code, message })
    }

    fn refused_twice(&self, t: &ErrorText) -> EndpointError {
        let (op, code, message) = (self.op, &t.code, &t.message);
        EndpointError::Auth {
            user: self.upn.to_string(),
            message: format!(
                "{op}: Graph refused a fresh token ({code}: {message}); check the app registration and its admin consent"
            ),
        }
    }

    async fn judge(
        &self,
        method: &Method,
        status: StatusCode,
        resp: Response,
        permit: OwnedSemaphorePermit,
    ) -> Result<Judged<Reply>> {
        // A POST creates something: if the service fails it with 503/504 the item may
        // have been stored all the same, so it is not sent again blindly (the engine
        // resolves it as in doubt, by fingerprint). A 429 was not processed: retried.
        let creates = *method == Method::POST;
        let (op, upn) = (self.op, self.upn);
        Ok(match status.as_u16() {
            503 | 504 if creates => Judged::Failed(EndpointError::ConnectionLost {
                op: format!(
                    "{op} for {upn}: Graph answered HTTP {} after the request was sent; \
                     whether it was stored is checked before anything is sent again",
                    status.as_u16()
                ),
            }),
            429 | 503 | 504 => {
                let body = bounded::error_body(resp).await;
                drop(permit);
                let (code, message) = error_text(&body);
                Judged::Throttled(ErrorText { code, message })
            }
            _ => Judged::Done(Reply {
                status,
                resp,
                _permit: permit,
            }),
        })
    }

    fn backoff(&self, attempt: u32) -> Duration {
        Duration::from_secs(1u64 << attempt.min(6)).min(Duration::from_secs(60))
    }

    fn max_retries(&self) -> u32 {
        self.limits.max_retries
    }

    fn throttled(&self, status: StatusCode, t: &ErrorText, wait: Duration, attempt: u32) {
        tracing::warn!(
            mailbox = self.upn,
            side = self.side,
            op = self.op,
            status = status.as_u16(),
            code = %t.code,
            retry_after_ms = wait.as_millis() as u64,
            attempt,
            "Graph throttled the request"
        );
        let mut w = self
            .limiter
            .window
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let until = Instant::now() + wait.min(MAX_RETRY_AFTER);
        w.server_until = Some(w.server_until.map_or(until, |u| u.max(until)));
        w.last_throttle = Some((
            Instant::now(),
            format!(
                "HTTP {} from the service, retry after {} s",
                status.as_u16(),
                wait.as_secs()
            ),
        ));
    }

    fn gave_up(&self, status: StatusCode, t: &ErrorText, wait: Duration) -> EndpointError {
        let (code, message) = (&t.code, &t.message);
        EndpointError::Throttled {
            op: format!("{} for {}", self.op, self.upn),
            message: format!("HTTP {status} {code}: {message}"),
            wait: Some(wait),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_hold_requests_and_uploads_back_until_they_slide() {
        let l = Limits::new(&crate::config::GraphLimits {
            requests: 2,
            requests_window: Duration::from_secs(10),
            upload_bytes: 100,
            upload_window: Duration::from_secs(20),
            ..Default::default()
        });
        let mut w = Window::default();
        let t0 = Instant::now();
        assert!(w.admit(t0, 60, &l).is_none());
        // 60 + 60 > 100 bytes: wait for the first upload to leave the window.
        let (d, why) = w.admit(t0, 60, &l).unwrap();
        // The window and its margin (1%): 20.2 s.
        assert_eq!(d, Duration::from_millis(20_200));
        assert!(why.contains("bytes"));
        assert!(w.admit(t0, 0, &l).is_none());
        let (d, why) = w.admit(t0 + Duration::from_secs(4), 0, &l).unwrap();
        assert_eq!(d, Duration::from_millis(6_100));
        assert!(why.contains("requests"));
        assert!(w.admit(t0 + Duration::from_secs(10), 0, &l).is_some());
        assert!(w.admit(t0 + Duration::from_millis(10_100), 0, &l).is_none());
        assert!(w.admit(t0 + Duration::from_secs(21), 60, &l).is_none());
        w.server_until = Some(t0 + Duration::from_secs(30));
        assert!(
            w.admit(t0 + Duration::from_secs(25), 0, &l)
                .unwrap()
                .1
                .contains("Retry-After")
        );
    }

    #[test]
    fn a_request_that_waited_for_a_slot_counts_from_when_it_was_sent() {
        let l = Limits::new(&crate::config::GraphLimits {
            upload_bytes: 100,
            upload_window: Duration::from_secs(10),
            ..Default::default()
        });
        let mut w = Window::default();
        let t0 = Instant::now();
        assert!(w.admit(t0, 60, &l).is_none());
        // Sent 5 s later (all slots were busy): the service counts it from then.
        w.restamp(t0, 60, t0 + Duration::from_secs(5));
        let (d, _) = w.admit(t0 + Duration::from_secs(11), 60, &l).unwrap();
        assert_eq!(d, Duration::from_millis(4_100));
        assert!(
            w.admit(t0 + Duration::from_millis(15_100), 60, &l)
                .is_none()
        );
    }
}
