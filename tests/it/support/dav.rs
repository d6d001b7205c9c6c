//! Throwaway Radicale (CalDAV + CardDAV) servers on 127.0.0.1 for the tests, the way
//! [`super::Dovecot`] serves mail: started by `tests/support/dav-instance.sh`, seeded by
//! `tests/support/seed-dav.py` over HTTP, viewed independently by `tests/support/dav_dump.py`
//! (Python's http.client, not cutover's code), and poked with a minimal HTTP/1.1 client
//! written here on `std::net` (so a test can change or delete one resource behind cutover's
//! back without going through any code under test).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use super::support_dir;

/// A running throwaway Radicale (stopped and its directory removed on drop).
pub struct Radicale {
    pub dir: PathBuf,
    pub port: u16,
    pub pid: u32,
}

/// How much `seed-dav.py` writes: `Small` = 16 events + 10 contacts (tests), `Medium` = 500
/// events + 300 contacts (bench, sample).
#[derive(Clone, Copy, Debug)]
pub enum Scale {
    Small,
    Medium,
}

impl Scale {
    fn as_str(self) -> &'static str {
        match self {
            Scale::Small => "small",
            Scale::Medium => "medium",
        }
    }
}

/// One collection in [`SeedSummary`].
#[derive(Debug, Deserialize)]
pub struct SeedCollection {
    /// The last path segment: "calendar", "work" or "contacts".
    pub name: String,
    /// "calendar" or "addressbook".
    pub kind: String,
    pub displayname: String,
    /// Resources (one per UID) the seeder wrote or found already there.
    pub items: usize,
    /// Of `items`: created now (201/204) and already there (412 to If-None-Match: *).
    pub created: usize,
    pub existing: usize,
    /// BEGIN: blocks by name (VEVENT counts masters and overrides; VCARD once per card).
    pub components: BTreeMap<String, usize>,
}

/// What `seed-dav.py` printed.
#[derive(Debug, Deserialize)]
pub struct SeedSummary {
    pub user: String,
    pub seed: u64,
    pub scale: String,
    /// The user's principal, e.g. "/alice/".
    pub home: String,
    pub collections: Vec<SeedCollection>,
    pub items: usize,
    pub components: BTreeMap<String, usize>,
    /// Counts of what the data exercises ("series", "overrides_moved", "attendees", "vcard3",
    /// "photos", "groups"...).
    pub features: BTreeMap<String, usize>,
    /// The UID of each notable resource: "weekly_series", "monthly_series",
    /// "meeting_organised_by_user", "meeting_organised_by_other", "private", "all_day",
    /// "multi_day_all_day", "tokyo", "utc", "dst_berlin", "dst_new_york", "attach_uri",
    /// "attach_inline", "long_folded", "vcard3_photo", "vcard4_photo", "group3", "group4".
    /// (vCard 4.0 UIDs are written "urn:uuid:" + this.)
    pub landmarks: BTreeMap<String, String>,
}

impl SeedSummary {
    pub fn collection(&self, name: &str) -> &SeedCollection {
        self.collections
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no collection {name:?} in the seed summary"))
    }
}

/// One resource as `dav_dump.py` sees it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct DavItem {
    /// The collection's last path segment.
    pub collection: String,
    /// "calendar" or "addressbook".
    pub kind: String,
    pub displayname: String,
    pub href: String,
    pub etag: String,
    /// The first UID value as written ("urn:uuid:..." stays so).
    pub uid: String,
    /// Sorted; "" for the master, else "PARAMS:VALUE" (e.g.
    /// "TZID=America/New_York:20260302T090000"); empty for a vCard.
    pub recurrence_ids: Vec<String>,
    /// The text, or with `normalise` the comparable form (see dav_dump.py's doc).
    pub content: String,
}

/// How many items of each kind ("calendar", "addressbook").
pub fn count_by_kind(items: &[DavItem]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for i in items {
        *out.entry(i.kind.clone()).or_insert(0) += 1;
    }
    out
}

/// How many items in each collection.
pub fn count_by_collection(items: &[DavItem]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for i in items {
        *out.entry(i.collection.clone()).or_insert(0) += 1;
    }
    out
}

/// The answer to [`Radicale::request`].
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

fn field(line: &str, key: &str) -> String {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
        .to_string()
}

impl Radicale {
    /// Start an instance under `root/name` with the given users (user, password).
    pub fn start(root: &Path, name: &str, users: &[(&str, &str)]) -> Radicale {
        let dir = root.join(name);
        let mut cmd = Command::new(support_dir().join("dav-instance.sh"));
        // 60 s for the first answer: a loaded 2-core machine runs many tests at once.
        cmd.args(["start", name, "auto"])
            .arg(&dir)
            .args(["--timeout", "60"]);
        for (u, p) in users {
            cmd.args(["--user", &format!("{u}:{p}")]);
        }
        let out = cmd.output().expect("run dav-instance.sh");
        assert!(
            out.status.success(),
            "dav-instance.sh start failed (is radicale installed? scripts/ensure-deps.sh): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Radicale {
            port: field(&line, "port").parse().unwrap(),
            pid: field(&line, "pid").parse().unwrap(),
            dir,
        }
    }

    /// The DAV root, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The last `lines` lines of Radicale's log (each request at level info), for a failing
    /// test's message.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.join("log/radicale.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Add (or change) a login; Radicale reads its htpasswd file at each login.
    pub fn add_user(&self, user: &str, pass: &str) {
        let out = Command::new(support_dir().join("dav-instance.sh"))
            .arg("add-user")
            .arg(&self.dir)
            .args([user, pass])
            .output()
            .expect("run dav-instance.sh add-user");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Seed `user`'s calendars and address book with seed 1 (see seed-dav.py).
    pub fn seed(&self, user: &str, pass: &str, scale: Scale) -> SeedSummary {
        self.seed_with(user, pass, scale, 1)
    }

    /// Seed with another seed: other UIDs in the same three collections (e.g. a destination's
    /// own events and contacts beside what a migration brings).
    pub fn seed_with(&self, user: &str, pass: &str, scale: Scale, seed: u64) -> SeedSummary {
        let out = Command::new("python3")
            .arg(support_dir().join("seed-dav.py"))
            .args(["--url", &self.url(), "--user", user, "--password", pass])
            .args(["--scale", scale.as_str(), "--seed", &seed.to_string(), "-q"])
            .output()
            .expect("run seed-dav.py");
        assert!(
            out.status.success(),
            "seed-dav.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("seed-dav.py JSON")
    }

    /// What the server holds for `user`, through dav_dump.py (content normalised or as is).
    pub fn dump(&self, user: &str, pass: &str, normalise: bool) -> Vec<DavItem> {
        let mut cmd = Command::new("python3");
        cmd.arg(support_dir().join("dav_dump.py")).args([
            "--url",
            &self.url(),
            "--user",
            user,
            "--password",
            pass,
        ]);
        if normalise {
            cmd.arg("--normalise");
        }
        let out = cmd.output().expect("run dav_dump.py");
        assert!(
            out.status.success(),
            "dav_dump.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("dav_dump.py JSON")
    }

    /// PUT `body` at `path` (absolute, e.g. "/alice/calendar/x.ics"), replacing what is there;
    /// the content type follows the extension (.ics, .vcf). The HTTP status.
    pub fn put(&self, user: &str, pass: &str, path: &str, body: &[u8]) -> u16 {
        let ctype = if path.ends_with(".vcf") {
            "text/vcard; charset=utf-8"
        } else {
            "text/calendar; charset=utf-8"
        };
        self.request(user, pass, "PUT", path, &[("Content-Type", ctype)], body)
            .status
    }

    /// DELETE `path`. The HTTP status.
    pub fn delete(&self, user: &str, pass: &str, path: &str) -> u16 {
        self.request(user, pass, "DELETE", path, &[], b"").status
    }

    /// GET `path`: (status, body as text).
    pub fn get(&self, user: &str, pass: &str, path: &str) -> (u16, String) {
        let a = self.request(user, pass, "GET", path, &[], b"");
        (a.status, String::from_utf8_lossy(&a.body).into_owned())
    }

    /// One HTTP/1.1 request (Basic auth, `Connection: close`) on `std::net`, so a test sees
    /// the server's own answer (e.g. 412 to `If-None-Match: *`, 403 for another user's data).
    pub fn request(
        &self,
        user: &str,
        pass: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpAnswer {
        http_request(self.port, user, pass, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path} on 127.0.0.1:{}: {e}", self.port))
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        let _ = Command::new(support_dir().join("dav-instance.sh"))
            .arg("destroy")
            .arg(&self.dir)
            .output();
    }
}

fn http_request(
    port: u16,
    user: &str,
    pass: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpAnswer> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {auth}\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(HttpAnswer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}
