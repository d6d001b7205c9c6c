//! A random but reproducible sample of mailboxes (`cutover verify --sample N%`): each
//! mailbox is ranked by BLAKE3 of the seed and its key, and the first N% (at least one) are
//! verified. The same seed and the same mailboxes give the same sample on any machine.

/// A sample's size and seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Share of the mailboxes, above 0 and at most 100.
    pub percent: f64,
    pub seed: u64,
}

impl Sample {
    /// The keys of the sampled mailboxes, in the order given.
    pub fn choose(&self, keys: &[String]) -> Vec<String> {
        if keys.is_empty() {
            return Vec::new();
        }
        let n = ((keys.len() as f64) * self.percent / 100.0).ceil() as usize;
        let n = n.clamp(1, keys.len());
        let mut ranked: Vec<(String, &String)> = keys
            .iter()
            .map(|k| {
                let mut h = blake3::Hasher::new();
                h.update(&self.seed.to_le_bytes());
                h.update(k.as_bytes());
                (h.finalize().to_hex().to_string(), k)
            })
            .collect();
        ranked.sort();
        let chosen: Vec<&String> = ranked.into_iter().take(n).map(|(_, k)| k).collect();
        keys.iter()
            .filter(|k| chosen.contains(k))
            .cloned()
            .collect()
    }

    /// "sample 10% (3 of 25 mailboxes), seed 42".
    pub fn describe(&self, chosen: usize, of: usize) -> String {
        format!(
            "sample {}% ({chosen} of {of} mailboxes), seed {}",
            self.percent, self.seed
        )
    }
}

/// "10%" or "10" (also "0.5%"): above 0, at most 100.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let t = s.trim().trim_end_matches('%').trim();
    match t.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p),
        _ => Err(format!(
            "--sample {s}: expected a share of the mailboxes above 0 and at most 100, such as 10%"
        )),
    }
}

/// A seed for a sample when none is given (printed and journalled, so that the sample can be
/// drawn again).
pub fn new_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let h = blake3::hash(format!("{t} {}", std::process::id()).as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_bytes()[..8]);
    // Short enough to type again.
    u64::from_le_bytes(b) % 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_reproducible_and_the_right_size() {
        let keys: Vec<String> = (0..40).map(|i| format!("u{i}->u{i}")).collect();
        let s = Sample {
            percent: 10.0,
            seed: 7,
        };
        let a = s.choose(&keys);
        assert_eq!(a.len(), 4);
        assert_eq!(a, s.choose(&keys));
        let other = Sample { seed: 8, ..s }.choose(&keys);
        assert_ne!(a, other);
        assert_eq!(
            Sample {
                percent: 100.0,
                seed: 1
            }
            .choose(&keys),
            keys
        );
        assert_eq!(
            Sample {
                percent: 0.1,
                seed: 1
            }
            .choose(&keys)
            .len(),
            1
        );
    }

    #[test]
    fn percent_is_checked() {
        assert_eq!(parse_percent("10%"), Ok(10.0));
        assert_eq!(parse_percent("2.5"), Ok(2.5));
        assert!(parse_percent("0%").is_err());
        assert!(parse_percent("150%").is_err());
        assert!(parse_percent("ten").is_err());
    }
}
