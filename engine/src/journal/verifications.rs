//! The outcome of `cutover verify` per mailbox, as journalled.

use super::sql::params;

use super::db::{Journal, Result};

/// How and over what a verification ran, as journalled with it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerificationScope {
    /// `content` or `fingerprint`.
    pub method: String,
    /// `full` or `sample`.
    pub scope: String,
    pub sample_percent: Option<f64>,
    pub sample_seed: Option<u64>,
    /// Items whose content was compared.
    pub items_checked: u64,
}

/// A mailbox's newest verification.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerificationRow {
    pub mailbox: String,
    pub ok: bool,
    pub summary: String,
    pub at: String,
    /// `content`, `fingerprint`, or empty for a row written before content verification.
    pub method: String,
    /// `full`, `sample`, or empty for a row written before scopes were journalled.
    pub scope: String,
    pub sample_percent: Option<f64>,
    pub sample_seed: Option<u64>,
    pub items_checked: Option<u64>,
}

impl VerificationRow {
    /// A passing verification of what every item says, of the whole selection.
    pub fn full_content_pass(&self) -> bool {
        self.ok && self.method == "content" && self.scope == "full"
    }
}

impl Journal {
    /// Journal the outcome of `cutover verify` for one mailbox with its method and scope.
    pub fn record_verification_scoped(
        &self,
        mailbox: &str,
        batch: &str,
        ok: bool,
        summary: &str,
        how: &VerificationScope,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO verifications(mailbox, batch, ok, summary, method, scope, sample_percent, sample_seed, items_checked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    mailbox,
                    batch,
                    ok,
                    summary,
                    how.method,
                    how.scope,
                    how.sample_percent,
                    how.sample_seed.map(|s| s as i64),
                    how.items_checked as i64
                ],
            )
            .map(drop)
        })
    }

    /// Every mailbox's newest verification, by mailbox key.
    pub fn latest_verification_rows(&self) -> Result<Vec<VerificationRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT mailbox, ok, summary, at, coalesce(method, ''), coalesce(scope, ''),
                        sample_percent, sample_seed, items_checked FROM verifications v
                 WHERE id = (SELECT max(id) FROM verifications w WHERE w.mailbox = v.mailbox)
                 ORDER BY mailbox",
            )?;
            st.query_map(params![], |r| {
                Ok(VerificationRow {
                    mailbox: r.get(0)?,
                    ok: r.get(1)?,
                    summary: r.get(2)?,
                    at: r.get(3)?,
                    method: r.get(4)?,
                    scope: r.get(5)?,
                    sample_percent: r.get(6)?,
                    sample_seed: r.get::<_, Option<i64>>(7)?.map(|s| s as u64),
                    items_checked: r.get::<_, Option<i64>>(8)?.map(|s| s as u64),
                })
            })?
            .collect()
        })
    }

    /// Journal the outcome of `cutover verify` for one mailbox.
    pub fn record_verification(
        &self,
        mailbox: &str,
        batch: &str,
        ok: bool,
        summary: &str,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO verifications(mailbox, batch, ok, summary) VALUES (?1, ?2, ?3, ?4)",
                params![mailbox, batch, ok, summary],
            )
            .map(drop)
        })
    }

    /// mailbox -> (ok, summary, at) of its newest verification.
    pub fn latest_verifications(
        &self,
    ) -> Result<std::collections::HashMap<String, (bool, String, String)>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT mailbox, ok, summary, at FROM verifications v
                 WHERE id = (SELECT max(id) FROM verifications w WHERE w.mailbox = v.mailbox)",
            )?;
            st.query_map(params![], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
            })?
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::journal::db::both_backends! {
    fn the_newest_verification_with_its_scope(s) {
        s.record_verification("a->a", "b", true, "old").unwrap();
        let rows = s.latest_verification_rows().unwrap();
        assert_eq!(rows[0].method, "");
        assert!(!rows[0].full_content_pass());
        let how = VerificationScope {
            method: "content".into(),
            scope: "sample".into(),
            sample_percent: Some(10.0),
            sample_seed: Some(42),
            items_checked: 3,
        };
        s.record_verification_scoped("a->a", "b", true, "ok", &how)
            .unwrap();
        let r = &s.latest_verification_rows().unwrap()[0];
        assert_eq!((r.sample_seed, r.items_checked), (Some(42), Some(3)));
        assert!(!r.full_content_pass());
        let full = VerificationScope {
            scope: "full".into(),
            sample_percent: None,
            sample_seed: None,
            ..how
        };
        s.record_verification_scoped("a->a", "b", true, "ok", &full)
            .unwrap();
        assert!(s.latest_verification_rows().unwrap()[0].full_content_pass());
        }
    }
}
