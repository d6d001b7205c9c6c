//! What the server announces: CAPABILITY (UIDPLUS, LITERAL+/-, SPECIAL-USE, MULTIAPPEND,
//! APPENDLIMIT), COMPRESS=DEFLATE and the storage quota (GETQUOTAROOT).

use super::errors::map_err;
use super::session::ImapSession;
use crate::endpoint::compress::CompressSwitch;
use crate::endpoint::net::with_timeout;
use crate::endpoint::types::{Capabilities, Result};

/// What a CAPABILITY answer (or a LOGIN's `[CAPABILITY ...]` code) says cutover can use.
pub(super) fn capabilities_of(caps: &async_imap::types::Capabilities) -> Capabilities {
    let mut c = Capabilities::default();
    for cap in caps.iter() {
        let name = match cap {
            async_imap::types::Capability::Imap4rev1 => "IMAP4rev1".to_string(),
            async_imap::types::Capability::Auth(a) => format!("AUTH={a}"),
            async_imap::types::Capability::Atom(a) => a.clone(),
        };
        let up = name.to_ascii_uppercase();
        match up.as_str() {
            "UIDPLUS" => c.uidplus = true,
            "LITERAL+" => c.literal_plus = true,
            "LITERAL-" => c.literal_minus = true,
            "SPECIAL-USE" => c.special_use = true,
            "MULTIAPPEND" => c.multiappend = true,
            _ => {
                if let Some(v) = up.strip_prefix("APPENDLIMIT=") {
                    c.append_limit = v.parse().ok();
                }
            }
        }
        c.raw.push(name);
    }
    c
}

impl ImapSession {
    pub(super) async fn read_capabilities(&mut self) -> Result<Capabilities> {
        let caps = with_timeout(self.timeout, "CAPABILITY", self.s.capabilities())
            .await?
            .map_err(|e| map_err("CAPABILITY", e))?;
        Ok(capabilities_of(&caps))
    }

    /// COMPRESS=DEFLATE (RFC 4978) where the server offers it: both directions compressed from
    /// the next command on. A server that refuses (NO, e.g. compression already active) leaves
    /// the session as it was, said in the log.
    pub(super) async fn compress(&mut self, switch: &CompressSwitch) -> Result<()> {
        let offered = self
            .caps
            .raw
            .iter()
            .any(|c| c.eq_ignore_ascii_case("COMPRESS=DEFLATE"));
        if !offered {
            tracing::info!(host = %self.host, "COMPRESS=DEFLATE not offered: uncompressed");
            return Ok(());
        }
        self.settle();
        let r = with_timeout(
            self.timeout,
            "COMPRESS",
            self.s.run_command_and_check_ok("COMPRESS DEFLATE"),
        )
        .await?;
        match r {
            Ok(()) => {
                switch.enable();
                tracing::debug!(host = %self.host, "COMPRESS=DEFLATE on");
                Ok(())
            }
            Err(async_imap::error::Error::No(m) | async_imap::error::Error::Bad(m)) => {
                tracing::warn!(host = %self.host, "COMPRESS DEFLATE refused ({m}): uncompressed");
                Ok(())
            }
            Err(e) => Err(map_err("COMPRESS", e)),
        }
    }

    /// Storage quota of the root that holds `folder` (GETQUOTAROOT): (used, limit) in bytes.
    /// None when the server announces no QUOTA or sets no storage limit.
    pub async fn storage_quota(&mut self, folder: &str) -> Result<Option<(u64, u64)>> {
        if !self.caps.raw.iter().any(|c| {
            c.eq_ignore_ascii_case("QUOTA") || c.to_ascii_uppercase().starts_with("QUOTA=")
        }) {
            return Ok(None);
        }
        let (_, quotas) = with_timeout(self.timeout, "GETQUOTAROOT", self.s.get_quota_root(folder))
            .await?
            .map_err(|e| map_err("GETQUOTAROOT", e))?;
        let mut out: Option<(u64, u64)> = None;
        for q in &quotas {
            for r in &q.resources {
                if r.name == async_imap::types::QuotaResourceName::Storage && r.limit > 0 {
                    // KiB as the server counts them; a lie near u64::MAX saturates.
                    let (used, limit) =
                        (r.usage.saturating_mul(1024), r.limit.saturating_mul(1024));
                    // Several roots: the tightest one decides.
                    if out.is_none_or(|(u, l)| limit.saturating_sub(used) < l.saturating_sub(u)) {
                        out = Some((used, limit));
                    }
                }
            }
        }
        Ok(out)
    }
}
