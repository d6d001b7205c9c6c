//! Gmail's per-user quota (units per minute, each method's documented cost) counted in a
//! sliding window before each call, and Gmail's rules for the REST layer
//! ([`crate::endpoint::rest`]): a 429 or a 403 `rateLimitExceeded`/`userRateLimitExceeded`
//! and the 5xx server errors are waited out (Retry-After, else exponential backoff) up to
//! [`MAX_RETRIES`]; an import failed by a server error is not sent again (in doubt).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode};

use super::types::MAX_RETRIES;
use super::wire::error_of;
use crate::endpoint::bounded;
use crate::endpoint::rest::{ErrorText, Judged, Policy};
use crate::endpoint::types::{EndpointError, Result};

/// Per-user sliding window of quota units spent in the last minute, shared by the sessions
/// of one connector: Gmail's units, or the Calendar API's requests (one unit each).
#[derive(Clone)]
pub(super) struct Quota {
    spent: Arc<Mutex<HashMap<String, Window>>>,
    /// Units a user may spend in a window (the project's `gmail_units_per_minute` or
    /// `calendar_requests_per_minute`).
    limit: u32,
    /// The window: a minute (`gmail_quota_window` may shorten Gmail's, for a scaled clock).
    window: Duration,
}

/// (when, units) of the calls in the last minute, oldest first.
type Window = VecDeque<(Instant, u32)>;

impl Quota {
    const WINDOW: Duration = Duration::from_secs(60);

    pub(super) fn new(limit: u32) -> Quota {
        Quota::with_window(limit, Quota::WINDOW)
    }

    pub(super) fn with_window(limit: u32, window: Duration) -> Quota {
        Quota {
            spent: Arc::default(),
            limit,
            window,
        }
    }

    /// Wait until `units` more fit in the user's last window, then count them; when.
    async fn take(&self, user: &str, units: u32) -> Instant {
        loop {
            let now = Instant::now();
            let wait = {
                let mut all = self.spent.lock().expect("quota lock");
                let q = all.entry(user.to_string()).or_default();
                admit(q, now, units, self.limit, self.window)
            };
            match wait {
                None => return now,
                Some(w) => tokio::time::sleep(w).await,
            }
        }
    }

    /// The call counted at `sent` was answered: count it from now. Google counts a call
    /// when it arrives, some time after cutover sent it; counted from the answer, the
    /// window cutover keeps never ends before Google's, so a call admitted at the edge of
    /// the window is not refused for the latency of the one it replaces.
    fn answered(&self, user: &str, sent: Instant, units: u32) {
        let mut all = self.spent.lock().expect("quota lock");
        let Some(q) = all.get_mut(user) else { return };
        if let Some(i) = q.iter().position(|e| *e == (sent, units)) {
            q.remove(i);
            // Every entry was stamped before now: the window stays in time order.
            q.push_back((Instant::now(), units));
        }
    }
}

/// Count `units` in the window `q` at `now` when they fit under `limit` (None), else how long
/// to wait until enough of the oldest entries have left the window.
pub(super) fn admit(
    q: &mut Window,
    now: Instant,
    units: u32,
    limit: u32,
    window: Duration,
) -> Option<Duration> {
    while q
        .front()
        .is_some_and(|(t, _)| now.duration_since(*t) >= window)
    {
        q.pop_front();
    }
    let used: u32 = q.iter().map(|(_, u)| u).sum();
    if used + units <= limit || q.is_empty() {
        q.push_back((now, units));
        return None;
    }
    let mut freed = 0;
    let mut until = now;
    for (t, u) in q.iter() {
        freed += u;
        until = *t + window;
        if used - freed + units <= limit {
            break;
        }
    }
    Some(until.saturating_duration_since(now) + Duration::from_millis(5))
}

/// Gmail's rules for one call of user `user` (see the module notes).
pub(super) struct GmailCall<'a> {
    pub(super) quota: &'a Quota,
    pub(super) user: &'a str,
    pub(super) op: &'a str,
    /// The call as errors name it ("op (side mailbox user)").
    pub(super) ctx: &'a str,
    /// The method's quota cost.
    pub(super) units: u32,
    /// The most an answer may hold.
    pub(super) cap: usize,
    /// A POST that is not sent again after a server error, because it may have been done
    /// (a message import, a contact or calendar create): reported in doubt instead.
    pub(super) no_resend: bool,
}

impl GmailCall<'_> {
    /// The whole answer, at most `cap` bytes.
    async fn body(&self, resp: Response) -> Result<Vec<u8>> {
        let ctx = self.ctx;
        bounded::http_body(resp, self.cap, "a Gmail API answer")
            .await
            .map_err(|e| {
                e.into_endpoint(ctx, |e| EndpointError::ConnectionLost {
                    op: format!("{ctx}: {e}"),
                })
            })
    }
}

impl Policy for GmailCall<'_> {
    /// When the call was counted.
    type Slot = Instant;
    type Out = (StatusCode, Vec<u8>);

    async fn admit(&self) -> Instant {
        self.quota.take(self.user, self.units).await
    }

    async fn refusal(&self, resp: Response) -> Result<ErrorText> {
        let (code, message) = error_of(&self.body(resp).await?);
        Ok(ErrorText { code, message })
    }

    fn refused_twice(&self, t: &ErrorText) -> EndpointError {
        EndpointError::Auth {
            user: self.user.to_string(),
            message: format!(
                "the Gmail API refused the access token twice: {}",
                t.message
            ),
        }
    }

    async fn judge(
        &self,
        method: &Method,
        status: StatusCode,
        resp: Response,
        sent: Instant,
    ) -> Result<Judged<(StatusCode, Vec<u8>)>> {
        self.quota.answered(self.user, sent, self.units);
        let bytes = self.body(resp).await?;
        let (reason, message) = if status.is_success() {
            (String::new(), String::new())
        } else {
            error_of(&bytes)
        };
        let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::FORBIDDEN
                && matches!(
                    reason.as_str(),
                    "rateLimitExceeded" | "userRateLimitExceeded"
                ));
        let server_error = matches!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
        );
        if server_error && *method == Method::POST && self.no_resend {
            // The import (or create) may have been stored before the error: sending it
            // again could make a second copy. The engine keeps it in doubt and looks for it
            // by fingerprint before sending anything again.
            return Ok(Judged::Failed(EndpointError::ConnectionLost {
                op: format!(
                    "{}: {status} {reason} {message} (it may or may not have been stored; resolved by fingerprint on the next attempt)",
                    self.ctx
                ),
            }));
        }
        if rate_limited || server_error {
            return Ok(Judged::Throttled(ErrorText {
                code: reason,
                message,
            }));
        }
        Ok(Judged::Done((status, bytes)))
    }

    fn backoff(&self, attempt: u32) -> Duration {
        Duration::from_secs(1 << (attempt - 1).min(5))
    }

    fn max_retries(&self) -> u32 {
        MAX_RETRIES
    }

    fn throttled(&self, status: StatusCode, _: &ErrorText, wait: Duration, _: u32) {
        tracing::debug!(user = %self.user, op = self.op, %status, ?wait, "Gmail API throttling; waiting");
    }

    fn gave_up(&self, status: StatusCode, t: &ErrorText, wait: Duration) -> EndpointError {
        let (reason, message) = (&t.code, &t.message);
        EndpointError::Throttled {
            op: self.ctx.to_string(),
            message: format!("{status} {reason} {message} ({MAX_RETRIES} retries waited out)"),
            wait: Some(wait),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::types::units;
    use super::*;

    const USER_UNITS_PER_MINUTE: u32 = 15_000;

    #[test]
    fn quota_window_admits_up_to_the_limit_then_waits_for_the_oldest() {
        let mut q = VecDeque::new();
        let t0 = Instant::now();
        for _ in 0..600 {
            assert_eq!(
                admit(
                    &mut q,
                    t0,
                    units::MESSAGES_IMPORT,
                    USER_UNITS_PER_MINUTE,
                    Quota::WINDOW
                ),
                None
            );
        }
        let t1 = t0 + Duration::from_secs(10);
        let w = admit(
            &mut q,
            t1,
            units::MESSAGES_IMPORT,
            USER_UNITS_PER_MINUTE,
            Quota::WINDOW,
        )
        .unwrap();
        assert_eq!(w, Duration::from_secs(50) + Duration::from_millis(5));
        // Once the first minute is over, the units are free again.
        let t2 = t0 + Duration::from_secs(60);
        assert_eq!(
            admit(
                &mut q,
                t2,
                units::MESSAGES_IMPORT,
                USER_UNITS_PER_MINUTE,
                Quota::WINDOW
            ),
            None
        );
        assert_eq!(q.len(), 1);
    }

    #[tokio::test]
    async fn a_call_counts_from_its_answer() {
        let quota = Quota::with_window(50, Duration::from_millis(300));
        let sent = quota.take("u", 50).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        quota.answered("u", sent, 50);
        // The first call's units are free 300 ms after its answer, not after it was sent.
        let t = Instant::now();
        quota.take("u", 25).await;
        let waited = t.elapsed();
        assert!(
            waited >= Duration::from_millis(290) && waited < Duration::from_millis(600),
            "{waited:?}"
        );
    }
}
