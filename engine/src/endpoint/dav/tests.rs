//! The DAV client: every call against a real Radicale started here on 127.0.0.1
//! (`/usr/bin/python3 -m radicale`), and its errors against scripted servers. The XML
//! reading is tested on real replies in `xml`.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::SecretString;

use super::xml;
use super::*;
use crate::endpoint::EndpointError;

// ---------------------------------------------------------------- against a real Radicale

/// A Radicale 3 on 127.0.0.1 with plain htpasswd users, owner_only rights and its storage in
/// a temporary directory; killed on drop.
struct Radicale {
    child: Child,
    dir: tempfile::TempDir,
    base: String,
}

impl Radicale {
    fn start(users: &[(&str, &str)]) -> Radicale {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let htpasswd: String = users.iter().map(|(u, p)| format!("{u}:{p}\n")).collect();
        std::fs::write(d.join("users"), htpasswd).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            d.join("config"),
            format!(
                "[server]\nhosts = 127.0.0.1:{port}\n\
                 [auth]\ntype = htpasswd\nhtpasswd_filename = {}\nhtpasswd_encryption = plain\ndelay = 0\n\
                 [rights]\ntype = owner_only\n\
                 [storage]\nfilesystem_folder = {}\n\
                 [logging]\nlevel = warning\n",
                d.join("users").display(),
                d.join("collections").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("log")).unwrap();
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "radicale", "--config"])
            .arg(d.join("config"))
            .env("HOME", d)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("/usr/bin/python3 -m radicale (the Debian package radicale)");
        let mut r = Radicale {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}/"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = r.child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                panic!("Radicale did not start: {}", r.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn client(&self, user: &str, password: &str) -> DavClient {
        let timeout = Duration::from_secs(20);
        let http = reqwest::Client::builder().timeout(timeout).build().unwrap();
        DavClient::new(
            http,
            &self.base,
            user,
            SecretString::from(password),
            "destination",
            timeout,
        )
        .unwrap()
    }

    fn storage(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn event(uid: &str, summary: &str) -> Vec<u8> {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cutover//test//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\n\
         DTEND:20260102T110000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    .into_bytes()
}

fn contact(uid: &str, name: &str) -> Vec<u8> {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEND:VCARD\r\n")
        .into_bytes()
}

fn has(body: &[u8], needle: &str) -> bool {
    String::from_utf8_lossy(body).contains(needle)
}

#[tokio::test]
async fn discovery_finds_the_principal_and_both_homes_through_well_known() {
    let r = Radicale::start(&[("alice", "secret")]);
    let c = r.client("alice", "secret");
    let homes = c.discover().await.unwrap();
    assert_eq!(
        homes,
        Homes {
            principal: "/alice/".into(),
            calendar_home: Some("/alice/".into()),
            addressbook_home: Some("/alice/".into()),
            scheduling: false,
        }
    );
    // Nothing in the home yet.
    assert_eq!(c.list_collections("/alice/").await.unwrap(), []);
    assert!(r.storage().join("collections").exists());
}

#[tokio::test]
async fn a_wrong_password_is_an_auth_error_naming_the_user_and_the_url() {
    let r = Radicale::start(&[("alice", "secret")]);
    let c = r.client("alice", "wrong");
    let e = c.discover().await.unwrap_err();
    match &e {
        EndpointError::Auth { user, message } => {
            assert_eq!(user, "alice");
            assert!(
                message.contains(&r.base) && message.contains("401"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let e = c.list_items("/alice/cal/").await.unwrap_err();
    assert!(matches!(e, EndpointError::Auth { .. }), "{e:?}");
}

#[tokio::test]
async fn collections_are_made_once_listed_and_deleted() {
    let r = Radicale::start(&[("alice", "secret")]);
    let c = r.client("alice", "secret");
    c.discover().await.unwrap();
    let cal = c.join("/alice/", "work cal");
    assert_eq!(cal, "/alice/work%20cal");
    let cal = format!("{cal}/");
    assert!(
        c.make_collection(&cal, CollectionKind::Calendar, "Work & <Home>")
            .await
            .unwrap()
    );
    assert!(
        !c.make_collection(&cal, CollectionKind::Calendar, "again")
            .await
            .unwrap()
    );
    let book = "/alice/contacts/";
    assert!(
        c.make_collection(book, CollectionKind::AddressBook, "Contacts")
            .await
            .unwrap()
    );
    assert!(
        !c.make_collection(book, CollectionKind::AddressBook, "Contacts")
            .await
            .unwrap()
    );

    let mut cols = c.list_collections("/alice/").await.unwrap();
    cols.sort_by(|a, b| a.href.cmp(&b.href));
    assert_eq!(cols.len(), 2, "{cols:?}");
    let (b, k) = (&cols[0], &cols[1]);
    assert_eq!(
        (b.kind, b.displayname.as_deref()),
        (CollectionKind::AddressBook, Some("Contacts"))
    );
    assert!(b.components.is_empty());
    assert!(xml::same_href(&k.href, "/alice/work cal/"));
    assert_eq!(k.kind, CollectionKind::Calendar);
    assert_eq!(k.displayname.as_deref(), Some("Work & <Home>"));
    assert_eq!(k.components, ["VEVENT"]);
    assert!(k.ctag.is_some() && k.sync_token.is_some(), "{k:?}");

    assert!(c.delete_collection(book).await.unwrap());
    assert!(!c.delete_collection(book).await.unwrap());
    let e = c.list_items(book).await.unwrap_err();
    assert!(
        matches!(&e, EndpointError::NoFolder { folder, .. } if folder == book),
        "{e:?}"
    );
    assert_eq!(c.list_collections("/alice/").await.unwrap().len(), 1);
}

#[tokio::test]
async fn resources_are_created_once_read_replaced_deleted_and_synced() {
    let r = Radicale::start(&[("alice", "secret")]);
    let c = r.client("alice", "secret");
    let cal = "/alice/cal/";
    assert!(
        c.make_collection(cal, CollectionKind::Calendar, "Cal")
            .await
            .unwrap()
    );
    let (_, token0) = {
        let d = c
            .sync_changes(cal, None)
            .await
            .unwrap()
            .expect("Radicale syncs");
        assert!(d.changed.is_empty() && d.removed.is_empty());
        ((), d.token)
    };

    // Created once: the same PUT again finds it there.
    let e1 = c.join(cal, "e1@x.ics");
    assert_eq!(e1, "/alice/cal/e1%40x.ics");
    let stored = c
        .put_new(&e1, CollectionKind::Calendar, &event("e1", "First"))
        .await
        .unwrap();
    let PutOutcome::Stored { etag: Some(etag1) } = stored else {
        panic!("{stored:?}")
    };
    assert_eq!(
        c.put_new(&e1, CollectionKind::Calendar, &event("e1", "Again"))
            .await
            .unwrap(),
        PutOutcome::PreconditionFailed
    );
    let e2 = c.join(cal, "e2.ics");
    assert!(matches!(
        c.put_new(&e2, CollectionKind::Calendar, &event("e2", "Second"))
            .await
            .unwrap(),
        PutOutcome::Stored { .. }
    ));
    // Not iCalendar: refused for this resource only.
    let bad = c
        .put_new(&c.join(cal, "bad.ics"), CollectionKind::Calendar, b"hello")
        .await
        .unwrap();
    assert!(
        matches!(bad, PutOutcome::Refused { status: 400, .. }),
        "{bad:?}"
    );

    // Listed with ETags, the collection itself left out.
    let mut items = c.list_items(cal).await.unwrap();
    items.sort_by(|a, b| a.href.cmp(&b.href));
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(xml::same_href(&items[0].href, "/alice/cal/e1@x.ics"));
    assert_eq!(items[0].etag.as_deref(), Some(etag1.as_str()));
    assert!(items[0].size.is_some_and(|s| s > 100));
    assert!(
        items[0]
            .content_type
            .as_deref()
            .unwrap()
            .starts_with("text/calendar")
    );

    // Multiget: the missing href is simply absent.
    let hrefs = vec![
        items[0].href.clone(),
        c.join(cal, "missing.ics"),
        items[1].href.clone(),
    ];
    let got = c
        .get_items(cal, CollectionKind::Calendar, &hrefs)
        .await
        .unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    let first = got.iter().find(|d| xml::same_href(&d.href, &e1)).unwrap();
    assert!(
        has(&first.body, "SUMMARY:First\r\n"),
        "{:?}",
        String::from_utf8_lossy(&first.body)
    );
    assert!(first.body.starts_with(b"BEGIN:VCALENDAR"));
    assert_eq!(first.etag.as_deref(), Some(etag1.as_str()));
    let one = c.get_item(&e1).await.unwrap().unwrap();
    assert_eq!(one.body, first.body, "GET and multiget give the same bytes");
    assert_eq!(one.etag.as_deref(), Some(etag1.as_str()));
    assert_eq!(c.get_item(&c.join(cal, "missing.ics")).await.unwrap(), None);

    // Replaced only under the current ETag.
    assert_eq!(
        c.put_replace(
            &e1,
            CollectionKind::Calendar,
            &event("e1", "Lost"),
            "\"stale\""
        )
        .await
        .unwrap(),
        PutOutcome::PreconditionFailed
    );
    assert!(has(
        &c.get_item(&e1).await.unwrap().unwrap().body,
        "SUMMARY:First"
    ));
    let PutOutcome::Stored { etag: Some(etag2) } = c
        .put_replace(
            &e1,
            CollectionKind::Calendar,
            &event("e1", "Changed"),
            &etag1,
        )
        .await
        .unwrap()
    else {
        panic!("not replaced")
    };
    assert_ne!(etag1, etag2);

    // Deleted once, under its ETag when given.
    let e = c.delete_item(&e2, Some("\"stale\"")).await.unwrap_err();
    assert!(matches!(e, EndpointError::Protocol { .. }), "{e:?}");
    assert!(c.delete_item(&e2, None).await.unwrap());
    assert!(!c.delete_item(&e2, None).await.unwrap());

    // Since the first token: e1 changed (it is new), e2 removed (created and deleted since:
    // a server may report it removed or not at all).
    let d = c.sync_changes(cal, Some(&token0)).await.unwrap().unwrap();
    assert_eq!(d.changed.len(), 1, "{d:?}");
    assert!(xml::same_href(&d.changed[0].href, &e1));
    assert_eq!(d.changed[0].etag.as_deref(), Some(etag2.as_str()));
    assert!(d.removed.iter().all(|h| xml::same_href(h, &e2)), "{d:?}");
    assert!(!d.truncated);
    // From the new token: only what changes next.
    let token1 = d.token.clone();
    assert!(c.delete_item(&e1, Some(&etag2)).await.unwrap());
    let d = c.sync_changes(cal, Some(&token1)).await.unwrap().unwrap();
    assert!(d.changed.is_empty(), "{d:?}");
    assert_eq!(d.removed.len(), 1, "{d:?}");
    assert!(xml::same_href(&d.removed[0], &e1));
    // A token the server never gave: unsupported, the caller lists.
    assert_eq!(
        c.sync_changes(cal, Some("http://radicale.org/ns/sync/nope"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn contacts_go_through_addressbook_multiget() {
    let r = Radicale::start(&[("alice", "secret")]);
    let c = r.client("alice", "secret");
    let book = "/alice/book/";
    assert!(
        c.make_collection(book, CollectionKind::AddressBook, "Book")
            .await
            .unwrap()
    );
    let mut hrefs = Vec::new();
    for i in 0..(MULTIGET_CHUNK + 5) {
        let h = c.join(book, &format!("c{i}.vcf"));
        let out = c
            .put_new(
                &h,
                CollectionKind::AddressBook,
                &contact(&format!("c{i}"), &format!("Zoë {i}")),
            )
            .await
            .unwrap();
        assert!(matches!(out, PutOutcome::Stored { .. }), "{out:?}");
        hrefs.push(h);
    }
    // A name with a space and non-ASCII letters: encoded, and found again decoded.
    let odd = c.join(book, "Zoë Ünal.vcf");
    assert_eq!(odd, "/alice/book/Zo%C3%AB%20%C3%9Cnal.vcf");
    let out = c
        .put_new(
            &odd,
            CollectionKind::AddressBook,
            &contact("odd", "Zoë Ünal"),
        )
        .await
        .unwrap();
    assert!(matches!(out, PutOutcome::Stored { .. }), "{out:?}");
    let listed = c.list_items(book).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|i| xml::same_href(&i.href, "/alice/book/Zoë Ünal.vcf")),
        "{listed:?}"
    );
    assert!(c.get_item(&odd).await.unwrap().is_some());
    assert!(c.delete_item(&odd, None).await.unwrap());
    // More than one chunk: all of them come back.
    let got = c
        .get_items(book, CollectionKind::AddressBook, &hrefs)
        .await
        .unwrap();
    assert_eq!(got.len(), hrefs.len());
    let c7 = got
        .iter()
        .find(|d| xml::same_href(&d.href, &hrefs[7]))
        .unwrap();
    assert!(
        has(&c7.body, "FN:Zoë 7"),
        "{:?}",
        String::from_utf8_lossy(&c7.body)
    );
    assert_eq!(c.list_items(book).await.unwrap().len(), hrefs.len());
    // Another user's collection: refused.
    let e = c.list_items("/bob/").await.unwrap_err();
    assert!(
        matches!(
            e,
            EndpointError::Auth { .. } | EndpointError::NoFolder { .. }
        ),
        "{e:?}"
    );
}

/// A server on 127.0.0.1 answering each request with what `answer` makes of its method and
/// path (a whole HTTP/1.1 response); its base URL.
async fn scripted(answer: impl Fn(&str, &str) -> String + Send + Sync + 'static) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let mut words = head.split_whitespace();
                let (m, p) = (words.next().unwrap_or(""), words.next().unwrap_or("/"));
                let _ = s.write_all(answer(m, p).as_bytes()).await;
            });
        }
    });
    base
}

/// An HTTP/1.1 response with these extra header lines and body.
fn reply(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn scripted_client(base: &str) -> DavClient {
    DavClient::new(
        reqwest::Client::new(),
        base,
        "u",
        SecretString::from("p"),
        "source",
        Duration::from_secs(5),
    )
    .unwrap()
}

#[tokio::test]
async fn answers_map_to_errors_that_name_the_url() {
    let base = scripted(|_, path| match path {
        "/throttled.ics" => reply("429 Too Many", "Retry-After: 7\r\n", "slow"),
        "/busy.ics" => reply("503 Busy", "", ""),
        "/broken.ics" => reply("502 Bad Gateway", "", ""),
        "/html/" => reply("207 Multi-Status", "", "<html><body>hi</body></html>"),
        "/huge.ics" => "HTTP/1.1 200 OK\r\nContent-Length: 70000000\r\n\r\n".into(),
        "/nosync/" => reply("501 Not Implemented", "", ""),
        "/nomultiget/" => reply("405 Method Not Allowed", "", ""),
        "/nomultiget/a.ics" => reply("200 OK", "ETag: \"e-a\"\r\n", "BEGIN:VCALENDAR\r\n"),
        _ => reply("404 Not Found", "", "no such thing"),
    })
    .await;
    let c = scripted_client(&base);
    match c.get_item("/throttled.ics").await.unwrap_err() {
        EndpointError::Throttled { wait, message, .. } => {
            assert_eq!(wait, Some(Duration::from_secs(7)));
            assert!(message.contains("slow"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let e = c.get_item("/busy.ics").await.unwrap_err();
    assert!(
        matches!(e, EndpointError::Throttled { wait: None, .. }),
        "{e:?}"
    );
    let e = c.get_item("/broken.ics").await.unwrap_err();
    assert!(
        matches!(e, EndpointError::ConnectionLost { .. }) && e.is_transient(),
        "{e:?}"
    );
    // A reply that is not a multistatus: a protocol error naming the request.
    let e = c.list_items("/html/").await.unwrap_err();
    match &e {
        EndpointError::Protocol { op, message } => {
            assert!(
                op.contains("PROPFIND") && op.contains(&format!("{base}html/")),
                "{op}"
            );
            assert!(message.contains("expected a DAV:multistatus"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Over the reply cap: refused before reading.
    let e = c.get_item("/huge.ics").await.unwrap_err();
    match &e {
        EndpointError::Protocol { message, .. } => assert!(
            message.contains("more than 67108864 bytes") && message.contains("a DAV reply"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    let e = c.list_items("/missing/").await.unwrap_err();
    assert!(
        matches!(&e, EndpointError::NoFolder { folder, server: Some(s), .. } if folder == "/missing/" && s == "no such thing"),
        "{e:?}"
    );
    assert_eq!(c.sync_changes("/nosync/", None).await.unwrap(), None);
    // No multiget: one GET each, the missing one absent.
    let hrefs = [
        "/nomultiget/a.ics".to_string(),
        "/nomultiget/b.ics".to_string(),
    ];
    let got = c
        .get_items("/nomultiget/", CollectionKind::Calendar, &hrefs)
        .await
        .unwrap();
    assert_eq!(
        got,
        [ItemData {
            href: "/nomultiget/a.ics".into(),
            etag: Some("\"e-a\"".into()),
            body: b"BEGIN:VCALENDAR\r\n".to_vec(),
        }]
    );
    assert_eq!(c.get_item("/gone.ics").await.unwrap(), None);

    let e = DavClient::new(
        reqwest::Client::new(),
        "ftp://x/",
        "u",
        SecretString::from("p"),
        "source",
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not an http"), "{e}");
    let c = DavClient::new(
        reqwest::Client::new(),
        "https://me:pw@dav.example.com/dav",
        "u",
        SecretString::from("p"),
        "source",
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(c.base().as_str(), "https://dav.example.com/dav/");
}

#[test]
fn a_client_for_an_endpoint_honours_its_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    std::fs::write(
        &file,
        "[project]\nname = \"t\"\nstate = \"s.sqlite\"\n\n\
         [source]\nkind = \"imap\"\nhost = \"localhost\"\nca_file = \"no-such-ca.pem\"\n\n\
         [destination]\nkind = \"imap\"\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n\n\
         [[mailbox]]\nbatch = \"b\"\nsource = { user = \"a\", password = \"x\" }\n\
         destination = { user = \"a\", password = \"x\" }\n",
    )
    .unwrap();
    let project = crate::config::load(&file).unwrap();
    let e = DavClient::for_endpoint(
        &project.source,
        "https://localhost/",
        "a",
        SecretString::from("x"),
        "source",
    )
    .unwrap_err();
    assert!(e.to_string().contains("no-such-ca.pem"), "{e}");
    let c = DavClient::for_endpoint(
        &project.destination,
        "http://127.0.0.1:5232/",
        "a",
        SecretString::from("x"),
        "destination",
    )
    .unwrap();
    assert_eq!(c.base().as_str(), "http://127.0.0.1:5232/");
}

#[tokio::test]
async fn a_server_that_schedules_by_itself_is_said_so() {
    const PRINCIPAL: &str = r#"<d:multistatus xmlns:d="DAV:"><d:response><d:href>/</d:href><d:propstat><d:prop><d:current-user-principal><d:href>/p/u/</d:href></d:current-user-principal></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"#;
    const HOMES: &str = r#"<m:multistatus xmlns:m="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"><m:response><m:href>/p/u/</m:href><m:propstat><m:prop><cal:calendar-home-set><m:href>/cal/u/</m:href></cal:calendar-home-set></m:prop><m:status>HTTP/1.1 200 OK</m:status></m:propstat></m:response></m:multistatus>"#;
    let base = scripted(|method, path| match (method, path) {
        ("PROPFIND", "/.well-known/caldav") => reply("207 Multi-Status", "", PRINCIPAL),
        ("PROPFIND", "/p/u/") => reply("207 Multi-Status", "", HOMES),
        ("OPTIONS", "/cal/u/") => reply(
            "200 OK",
            "DAV: 1, 2, access-control\r\nDAV: calendar-access, calendar-auto-schedule\r\n",
            "",
        ),
        _ => reply("404 Not Found", "", ""),
    })
    .await;
    let homes = scripted_client(&base).discover().await.unwrap();
    assert_eq!(
        homes,
        Homes {
            principal: "/p/u/".into(),
            calendar_home: Some("/cal/u/".into()),
            addressbook_home: None,
            scheduling: true,
        }
    );
}

/// A server that redirects every request to `to` (another origin): the same path, and the
/// well-known URLs to its root.
async fn redirector(to: String) -> String {
    scripted(move |_, path| {
        // The well-known URLs straight to the context path, as a real front would (one hop).
        let path = if path.starts_with("/.well-known/") {
            "/"
        } else {
            path
        };
        let location = format!("Location: {}{path}\r\n", to.trim_end_matches('/'));
        reply("301 Moved", &location, "")
    })
    .await
}

#[tokio::test]
async fn discovery_follows_a_redirect_to_another_server_and_keeps_its_urls() {
    let r = Radicale::start(&[("alice", "secret")]);
    // Another host name for the same Radicale: the HTTP client drops the credentials on a
    // redirect to another host, so discovery must send them again there.
    let elsewhere = r.base.replace("127.0.0.1", "localhost");
    let front = redirector(elsewhere.clone()).await;
    let timeout = Duration::from_secs(20);
    let http = reqwest::Client::builder().timeout(timeout).build().unwrap();
    let c = DavClient::new(
        http,
        &front,
        "alice",
        SecretString::from("secret"),
        "source",
        timeout,
    )
    .unwrap();
    let homes = c.discover().await.unwrap();
    let there = format!("{elsewhere}alice/");
    assert_eq!(homes.principal, there);
    assert_eq!(homes.calendar_home.as_deref(), Some(there.as_str()));
    // Hrefs of that server stay whole URLs, so every later call reaches it.
    let cal = c.join(&there, "cal");
    assert!(
        c.make_collection(&cal, CollectionKind::Calendar, "Cal")
            .await
            .unwrap()
    );
    let cols = c.list_collections(&there).await.unwrap();
    assert_eq!(cols.len(), 1, "{cols:?}");
    assert_eq!(cols[0].href, format!("{elsewhere}alice/cal/"));
}

#[tokio::test]
async fn a_put_into_a_missing_collection_is_no_folder() {
    let r = Radicale::start(&[("alice", "secret")]);
    let c = r.client("alice", "secret");
    c.discover().await.unwrap();
    let e = c
        .put_new(
            "/alice/gone/x.ics",
            CollectionKind::Calendar,
            &event("x", "X"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, EndpointError::NoFolder { folder, .. } if folder == "/alice/gone/"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_uid_already_in_the_collection_is_found_and_named() {
    let r = Radicale::start(&[("alice", "secret")]);
    let c = r.client("alice", "secret");
    let cal = "/alice/cal/";
    assert!(
        c.make_collection(cal, CollectionKind::Calendar, "Cal")
            .await
            .unwrap()
    );
    let first = c.join(cal, "first.ics");
    let out = c
        .put_new(&first, CollectionKind::Calendar, &event("uid-1@x", "One"))
        .await
        .unwrap();
    assert!(matches!(out, PutOutcome::Stored { .. }), "{out:?}");
    // The same UID under another href: a UID conflict (Radicale names no href; find_uid
    // finds it).
    let out = c
        .put_new(
            &c.join(cal, "second.ics"),
            CollectionKind::Calendar,
            &event("uid-1@x", "One again"),
        )
        .await
        .unwrap();
    match &out {
        PutOutcome::UidConflict { href } => {
            assert!(href.iter().all(|h| xml::same_href(h, &first)), "{href:?}")
        }
        other => panic!("{other:?}"),
    }
    let found = c
        .find_uid(cal, CollectionKind::Calendar, "uid-1@x")
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(xml::same_href(&found[0].href, &first));
    assert!(has(&found[0].body, "SUMMARY:One\r\n"));
    // CalDAV matches substrings: only the exact UID is kept.
    assert_eq!(
        c.find_uid(cal, CollectionKind::Calendar, "uid-1")
            .await
            .unwrap(),
        []
    );

    let book = "/alice/book/";
    assert!(
        c.make_collection(book, CollectionKind::AddressBook, "Book")
            .await
            .unwrap()
    );
    let card = c.join(book, "a.vcf");
    c.put_new(
        &card,
        CollectionKind::AddressBook,
        &contact("card-1", "Ann"),
    )
    .await
    .unwrap();
    let found = c
        .find_uid(book, CollectionKind::AddressBook, "card-1")
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(xml::same_href(&found[0].href, &card));
    assert_eq!(
        c.find_uid(book, CollectionKind::AddressBook, "card-2")
            .await
            .unwrap(),
        []
    );
}
