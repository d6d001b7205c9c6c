//! The operator's report notes (lessons learned, recommendations), as journalled: every edit
//! is kept with who wrote it and when; the newest of each section is the one reports show.

use super::sql::params;

use super::db::{Journal, Result};

/// The newest note of one section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoteRow {
    /// `lessons` or `recommendations`.
    pub section: String,
    pub text: String,
    /// The OS user who wrote it.
    pub by: String,
    pub at: String,
}

impl Journal {
    /// Record an operator's note for a section (replacing the previous one in the reports;
    /// the history stays in the journal).
    pub fn record_note(&self, section: &str, text: &str, by: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO report_notes (section, text, by) VALUES (?1, ?2, ?3)",
                params![section, text, by],
            )
            .map(drop)
        })
    }

    /// The newest note of each section written at least once, by section name.
    pub fn latest_notes(&self) -> Result<Vec<NoteRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT section, text, by, at FROM report_notes a
                 WHERE id = (SELECT MAX(id) FROM report_notes b WHERE b.section = a.section)
                 ORDER BY section",
            )?;
            st.query_map(params![], |r| {
                Ok(NoteRow {
                    section: r.get(0)?,
                    text: r.get(1)?,
                    by: r.get(2)?,
                    at: r.get(3)?,
                })
            })?
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    crate::journal::db::both_backends! {
    fn the_newest_note_of_each_section_wins_with_who_and_when(j) {
        assert!(j.latest_notes().unwrap().is_empty());
        j.record_note("lessons", "first", "ann").unwrap();
        j.record_note("recommendations", "r", "bob").unwrap();
        j.record_note("lessons", "second", "cid").unwrap();
        let n = j.latest_notes().unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(
            (n[0].section.as_str(), n[0].text.as_str(), n[0].by.as_str()),
            ("lessons", "second", "cid")
        );
        assert!(n[0].at.ends_with('Z'), "{:?}", n[0]);
        assert_eq!(n[1].by, "bob");
    }
    }
}
