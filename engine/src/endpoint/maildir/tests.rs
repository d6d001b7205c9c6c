//! A tree written through the session and read back through another: what Maildir cannot
//! hold (the 27th keyword of a folder, INTERNALDATE's UTC offset) comes back from the
//! manifest; UIDs are stable and never reused; rollback removes exactly the files named.

use chrono::DateTime;

use super::MaildirConnector;
use crate::config::{self, Credential, Durability};
use crate::endpoint::session::MailSession;
use crate::endpoint::sink::MessageSink;
use crate::endpoint::types::{AppendOutcome, Body, Message};
use crate::journal::Journal;

fn project(dir: &std::path::Path) -> config::Project {
    let (src, dst) = (dir.join("src"), dir.join("dst"));
    std::fs::create_dir_all(&src).unwrap();
    let file = dir.join("p.toml");
    std::fs::write(
        &file,
        format!(
            "[project]\nname = \"t\"\nstate = \"s.sqlite\"\n\n\
             [source]\nkind = \"maildir\"\npath = {:?}\n\n\
             [destination]\nkind = \"maildir\"\npath = {:?}\n\n\
             [[mailbox]]\nsource = {{ user = \"ann\" }}\ndestination = {{ user = \"ann\" }}\n",
            src.display().to_string(),
            dst.display().to_string()
        ),
    )
    .unwrap();
    config::load(&file).unwrap()
}

fn cred() -> Credential {
    Credential {
        user: "ann".into(),
        password: secrecy::SecretString::from(String::new()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_maildir_cannot_hold_comes_back_from_the_manifest() {
    let d = tempfile::tempdir().unwrap();
    let p = project(d.path());
    let journal = Journal::open(&d.path().join("j.sqlite"), Durability::Crash).unwrap();
    let dst = MaildirConnector::new(&p.destination, "destination", &journal, p.items).unwrap();
    let mut w = dst.connect(&cred()).await.unwrap();
    assert!(w.create_folder("Arch&AOk-ves/2024").await.unwrap());
    assert!(!w.create_folder("Arch&AOk-ves/2024").await.unwrap());
    let mut flags: Vec<String> = (0..30).map(|i| format!("kw{i}")).collect();
    flags.push("\\Seen".into());
    flags.push("\\Answered".into());
    let date = DateTime::parse_from_rfc3339("2023-05-06T07:08:09+05:30").unwrap();
    let msg = |uid: u32, text: &'static str| Message {
        uid,
        flags: flags.clone(),
        internal_date: Some(date),
        body: Body::new(text.as_bytes().to_vec()),
    };
    w.open_for_append("Arch&AOk-ves/2024").await.unwrap();
    let out = w
        .append(
            "Arch&AOk-ves/2024",
            &[
                msg(7, "Subject: a\r\n\r\nx\n"),
                msg(8, "Subject: b\r\n\r\ny\r\n"),
            ],
        )
        .await
        .unwrap();
    let uids: Vec<u32> = out
        .iter()
        .map(|o| match o {
            AppendOutcome::Stored { uid: Some(u), .. } => *u,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(uids, [1, 2]);
    let dir = d.path().join("dst/ann/Arch&AOk-ves/2024");
    let kws = std::fs::read_to_string(dir.join("dovecot-keywords")).unwrap();
    assert_eq!(kws.lines().count(), 26, "{kws}");
    assert!(kws.starts_with("0 kw0\n1 kw1\n"), "{kws}");
    let names: Vec<String> = std::fs::read_dir(dir.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(":2,RSabcdefghijklmnopqrstuvwxyz")),
        "{names:?}"
    );
    let mtime = std::fs::metadata(dir.join("cur").join(&names[0]))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        DateTime::<chrono::Utc>::from(mtime).timestamp(),
        date.timestamp()
    );

    // Read back (as verification does): every keyword, the date with its offset, the bytes.
    let st = w.examine("Arch&AOk-ves/2024").await.unwrap();
    assert_eq!((st.exists, st.uidnext), (2, 3));
    let fps = w.fetch_fingerprints(&[], 1).await.unwrap();
    assert_eq!(fps.len(), 2);
    for f in &fps {
        let mut got = f.flags.clone();
        got.sort();
        let mut want = flags.clone();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(f.internal_date, Some(date));
        assert_eq!(f.internal_date.unwrap().offset().local_minus_utc(), 19800);
    }
    assert_eq!(
        fps[0].fingerprint,
        crate::mail::fingerprint::fingerprint(b"Subject: a\r\n\r\nx\n"),
        "the destination is read byte for byte (no line-end change)"
    );

    // Rollback by UID removes exactly that file; its UID is never given again.
    w.expunge_uids(&[1]).await.unwrap();
    let st = w.examine("Arch&AOk-ves/2024").await.unwrap();
    assert_eq!((st.exists, st.uidnext), (1, 3));
    let out = w
        .append("Arch&AOk-ves/2024", &[msg(9, "Subject: c\r\n\r\nz\r\n")])
        .await
        .unwrap();
    assert!(matches!(out[0], AppendOutcome::Stored { uid: Some(3), .. }));
    assert!(w.create_folder("INBOX/Sub").await.unwrap());
    assert!(w.create_folder(".hid").await.unwrap());
    let folders = w.list_folders().await.unwrap();
    let shown: Vec<(String, bool)> = folders
        .iter()
        .map(|f| (f.path.join("/"), f.selectable))
        .collect();
    assert_eq!(
        shown,
        [
            ("INBOX".to_string(), true),
            (".hid".to_string(), true),
            ("Archéves".to_string(), false),
            ("Archéves/2024".to_string(), true),
            ("INBOX/Sub".to_string(), true)
        ]
    );
    // A name the layout cannot hold is refused, naming the folder.
    let e = w.create_folder("Work/tmp").await.unwrap_err().to_string();
    assert!(
        e.contains("\"Work/tmp\"") && e.contains("cur, new or tmp"),
        "{e}"
    );

    // The same tree as a source: same flags and dates; the bytes of what cutover wrote as
    // they are; nothing written.
    std::fs::remove_dir(d.path().join("src")).unwrap();
    std::os::unix::fs::symlink(d.path().join("dst"), d.path().join("src")).unwrap();
    let src = MaildirConnector::new(&p.source, "source", &journal, p.items).unwrap();
    let mut r = src.connect(&cred()).await.unwrap();
    assert!(r.create_folder("New").await.is_err());
    r.examine("Arch&AOk-ves/2024").await.unwrap();
    let (sink, mut rx) = MessageSink::new(8);
    r.fetch_messages(&[1, 2], &sink).await.unwrap();
    drop(sink);
    let mut got = Vec::new();
    while let Some((m, _)) = rx.recv().await {
        got.push(m);
    }
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body.bytes(), b"Subject: b\r\n\r\ny\r\n");
    assert_eq!(got[1].body.bytes(), b"Subject: c\r\n\r\nz\r\n");
    assert!(
        got.iter()
            .all(|m| m.internal_date == Some(date) && m.flags.len() == 32)
    );

    // A file another program put there with Unix line ends reads as IMAP serves it.
    let foreign = dir.join("cur/1700000000.M1P1.other,S=17:2,S");
    std::fs::write(&foreign, b"Subject: d\n\nw\n").unwrap();
    r.examine("Arch&AOk-ves/2024").await.unwrap();
    let fp = r.fetch_fingerprints(&[], 3).await.unwrap();
    assert_eq!(fp.len(), 1);
    assert_eq!(
        fp[0].fingerprint,
        crate::mail::fingerprint::fingerprint(b"Subject: d\r\n\r\nw\r\n")
    );
    assert_eq!(fp[0].flags, ["\\Seen"]);
}
