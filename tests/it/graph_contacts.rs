//! Contacts to and from Microsoft 365 through Graph: a real Dovecot + Radicale (IMAP +
//! CardDAV) on one side, the stateful fake Graph (tests/it/support/fake_cloud/
//! graph_contacts.rs) on the other, with the real `cutover` binary. Every contact lands
//! once with its fields, photo and source identity; a contact group is refused, naming it;
//! a re-run writes nothing; a create whose answer was lost is not repeated; verify compares
//! equal; rollback removes exactly what cutover created.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;
use support::dav::{DavItem, Radicale, Scale};
use support::fake_cloud::graph::{FakeGraph, GraphConfig};
use support::fake_cloud::graph_contacts::FakeContact;
use support::fake_cloud::{Cloud, token::Tokens};
use support::*;

const ALICE: &str = "alice@contoso.com";
const SRC: (&str, &str) = ("alice", "src-pw");
const UID_PROP: &str = "cutoverContactUid";
const VCARD_PROP: &str = "cutoverVcard";

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-graph-contacts")
        .tempdir()
        .unwrap()
}

fn cloud(graph: FakeGraph) -> Cloud {
    let tokens = Tokens::new(Duration::from_secs(3600))
        .with_client("contoso", "app-1", "secret-1")
        .with_client("fabrikam", "app-2", "secret-2");
    Cloud::start(tokens, graph, |g| g)
}

fn graph_endpoint(cloud: &Cloud) -> toml::Table {
    tenant_endpoint(cloud, "contoso", "app-1", "CUTOVER_TEST_SECRET_1")
}

fn tenant_endpoint(cloud: &Cloud, tenant: &str, app: &str, env: &str) -> toml::Table {
    let url = cloud.url();
    let token_url = format!("{url}/{tenant}/oauth2/v2.0/token");
    toml::toml! {
        kind = "graph"
        api_url = (url.as_str())

        [oauth]
        provider = "entra"
        tenant = (tenant)
        client_id = (app)
        client_secret_env = (env)
        token_url = (token_url.as_str())
    }
}

/// IMAP + CardDAV (Dovecot and Radicale) on the source side.
struct Source {
    imap: Dovecot,
    dav: Radicale,
    // Last: fields drop in order, and the servers' directories must outlive their
    // stop (a Dovecot whose directory is gone is never stopped).
    _root: tempfile::TempDir,
}

fn source() -> Source {
    let root = tmp();
    let imap = Dovecot::start(root.path(), "src", &[SRC], &[]);
    let dav = Radicale::start(root.path(), "src-dav", &[SRC]);
    Source {
        _root: root,
        imap,
        dav,
    }
}

fn imap_dav(s: &Source) -> toml::Table {
    let mut t = project::imap(s.imap.port);
    let mut dav = toml::Table::new();
    dav.insert("url".into(), format!("{}/", s.dav.url()).into());
    dav.insert("security".into(), "none".into());
    t.insert("dav".into(), dav.into());
    t
}

/// A project of mail and contacts from `source` to `destination` (alice on both).
fn project(
    source: toml::Table,
    destination: toml::Table,
    src: toml::Table,
    dst: toml::Table,
) -> ProjectDir {
    ProjectBuilder::new("graph-contacts")
        .set("project.items", vec!["mail", "contacts"])
        .source(source)
        .destination(destination)
        .mailbox(project::mailbox(None, src, dst))
        .create()
}

fn cutover(p: &ProjectDir, args: &[&str]) -> Output {
    let mut c = Command::new(bin());
    c.arg(args[0]).arg(&p.path).args(&args[1..]);
    c.env("CUTOVER_TEST_SECRET_1", "secret-1")
        .env("CUTOVER_TEST_SECRET_2", "secret-2");
    c.output().expect("run cutover")
}

/// The source address book's contacts by UID (raw text), groups apart.
fn source_cards(items: &[DavItem]) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let (mut cards, mut groups) = (BTreeMap::new(), BTreeSet::new());
    for i in items.iter().filter(|i| i.kind == "addressbook") {
        let group = i.content.lines().any(|l| {
            let l = l.to_ascii_uppercase();
            (l.starts_with("KIND:") || l.starts_with("X-ADDRESSBOOKSERVER-KIND:"))
                && l.trim_end().ends_with(":GROUP")
        });
        if group {
            groups.insert(i.uid.clone());
        } else {
            cards.insert(i.uid.clone(), i.content.clone());
        }
    }
    (cards, groups)
}

fn by_source_uid(contacts: &[FakeContact]) -> BTreeMap<String, Vec<FakeContact>> {
    let mut m: BTreeMap<String, Vec<FakeContact>> = BTreeMap::new();
    for c in contacts {
        let uid = c
            .props
            .iter()
            .find(|(k, _)| k.contains(UID_PROP))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| format!("(own) {}", c.id));
        m.entry(uid).or_default().push(c.clone());
    }
    m
}

/// The value of a vCard property (first line starting with `name`, after its colon).
fn card_value(card: &str, name: &str) -> Option<String> {
    let unfolded = card.replace("\r\n ", "").replace("\n ", "");
    unfolded
        .lines()
        .find(|l| {
            l.to_ascii_uppercase().starts_with(name) && l[name.len()..].starts_with([':', ';'])
        })
        .and_then(|l| l.split_once(':').map(|(_, v)| v.trim_end().to_string()))
}

/// Every non-group source contact is in the Graph folder exactly once, carrying its UID and
/// text; the fields Graph has are filled from it (name, e-mail, photo).
fn assert_landed_once(cards: &BTreeMap<String, String>, landed: &[FakeContact]) {
    let by_uid = by_source_uid(landed);
    for (uid, card) in cards {
        let got = by_uid
            .get(uid)
            .unwrap_or_else(|| panic!("contact {uid} is not on the destination"));
        assert_eq!(got.len(), 1, "contact {uid} is there once: {got:?}");
        let c = &got[0];
        let fn_ = card_value(card, "FN")
            .unwrap_or_default()
            .replace("\\,", ",");
        assert_eq!(c.fields["displayName"], json!(fn_), "{uid}: name");
        if let Some(email) = card_value(card, "EMAIL") {
            let emails = c.fields["emailAddresses"].to_string();
            assert!(emails.contains(&email), "{uid}: {email} in {emails}");
        }
        if let Some(photo) = card_value(card, "PHOTO") {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(photo.trim())
                .expect("the seeder's photos are b-encoded");
            let (mime, got) = c.photo.clone().unwrap_or_else(|| panic!("{uid}: photo"));
            assert_eq!(mime, "image/jpeg", "{uid}");
            assert_eq!(got, bytes, "{uid}: the photo's bytes");
        } else {
            assert!(c.photo.is_none(), "{uid}: no photo");
        }
        assert!(
            c.prop(&format!(
                "String {{3f0c5a8e-6b1d-4c2e-9a57-1d2e8c4b7f60}} Name {VCARD_PROP}"
            ))
            .is_some(),
            "{uid}: the source text is kept"
        );
    }
    // The mailbox's own contacts (no source UID) may share the folder; counts are checked
    // by the callers.
    let extra: Vec<&String> = by_uid
        .keys()
        .filter(|u| !u.starts_with("(own) ") && !cards.contains_key(*u))
        .collect();
    assert!(extra.is_empty(), "contacts from nowhere: {extra:?}");
}

fn failed_reasons(p: &ProjectDir) -> Vec<String> {
    p.journal()
        .message_rows()
        .unwrap()
        .into_iter()
        .filter(|m| m.state == "failed")
        .map(|m| m.reason.unwrap_or_default())
        .collect()
}

#[test]
fn imap_dav_to_graph_contacts_once_groups_refused_rerun_verify_and_rollback() {
    let s = source();
    s.imap.seed(SRC.0, 5, 3, &["--no-tricky"]);
    let seeded = s.dav.seed(SRC.0, SRC.1, Scale::Small);
    let (cards, groups) = source_cards(&s.dav.dump(SRC.0, SRC.1, false));
    assert_eq!(groups.len(), 2, "the seeder writes a 3.0 and a 4.0 group");
    assert!(cards.len() >= 6, "{cards:?}");
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    let c = cloud(graph);
    // The mailbox's own contact, in the default folder: never touched.
    let own = c.graph.seed_contact(
        ALICE,
        None,
        json!({"displayName": "Own Person", "emailAddresses": [{"address": "own@contoso.com"}]}),
        None,
    );
    let p = project(
        imap_dav(&s),
        graph_endpoint(&c),
        project::login(SRC.0, SRC.1),
        project::user(ALICE),
    );
    let plan = cutover(&p, &["plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let books = format!("{} contacts", cards.len() + groups.len());
    assert!(
        stdout(&plan)
            .lines()
            .any(|l| l.contains("Contacts/Contacts") && l.contains(&books)),
        "the plan lists the address book: {}",
        text(&plan)
    );

    let run = cutover(&p, &["run"]);
    // The groups are refused: the mailbox is partial, everything else is there.
    assert_eq!(run.status.code(), Some(6), "{}", text(&run));
    let mb = c.graph.mailbox(ALICE);
    assert_landed_once(&cards, &mb.contacts.in_folder("Contacts"));
    assert_eq!(
        mb.contacts.in_folder("Contacts").len(),
        cards.len() + 1,
        "the source's only address book lands in the default Contacts, beside the own contact"
    );
    assert!(
        mb.contacts.folders.is_empty(),
        "no folder created: {:?}",
        mb.contacts.folders
    );
    let reasons = failed_reasons(&p);
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    for key in ["group3", "group4"] {
        let uid = &seeded.landmarks[key];
        assert!(
            reasons
                .iter()
                .any(|r| r.contains(uid.as_str()) && r.contains("contact group")),
            "{key} refused naming it: {reasons:?}"
        );
    }
    // Mail moved in the same run.
    assert_eq!(mb.messages.len(), s.imap.dump(SRC.0, SRC.1).total());
    let creates = mb.contacts.creates;
    assert_eq!(creates as usize, cards.len(), "one create per contact");

    let again = cutover(&p, &["run"]);
    assert_eq!(
        run_counts(&again),
        (0, 0),
        "a re-run writes nothing: {}",
        text(&again)
    );
    assert_eq!(c.graph.mailbox(ALICE).contacts.creates, creates);

    // Verify: every contact compares equal; only the two groups are missing.
    let v = cutover(&p, &["verify"]);
    let out = text(&v);
    assert_ne!(v.status.code(), Some(0), "the groups are not there: {out}");
    assert!(out.contains("contacts:contacts"), "{out}");
    // Without the groups on the source, verify passes.
    for key in ["group3", "group4"] {
        let uid = seeded.landmarks[key].clone();
        let href = s
            .dav
            .dump(SRC.0, SRC.1, false)
            .into_iter()
            .find(|i| i.uid.ends_with(&uid))
            .map(|i| i.href)
            .expect("group on the source");
        assert!(matches!(s.dav.delete(SRC.0, SRC.1, &href), 200 | 204));
    }
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));

    let rb = cutover(&p, &["rollback", "--batch", "default", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    let mb = c.graph.mailbox(ALICE);
    let left: Vec<String> = mb.contacts.contacts.iter().map(|c| c.id.clone()).collect();
    assert_eq!(
        left,
        vec![own],
        "rollback removes exactly what cutover created"
    );
}

#[test]
fn a_contact_create_whose_answer_was_lost_is_not_duplicated() {
    let s = source();
    s.dav.seed(SRC.0, SRC.1, Scale::Small);
    let (cards, _) = source_cards(&s.dav.dump(SRC.0, SRC.1, false));
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    let c = cloud(graph);
    let p = project(
        imap_dav(&s),
        graph_endpoint(&c),
        project::login(SRC.0, SRC.1),
        project::user(ALICE),
    );
    // The first create is stored but its answer lost (503 after storing it).
    c.graph.store_then_fail_contacts(ALICE, 1);
    let first = cutover(&p, &["run"]);
    assert_ne!(first.status.code(), Some(0), "{}", text(&first));
    let stored = c.graph.mailbox(ALICE).contacts.in_folder("Contacts").len();
    assert!(stored >= 1, "the lost create was stored: {}", text(&first));
    let second = cutover(&p, &["run"]);
    assert_eq!(
        second.status.code(),
        Some(6),
        "only the groups stay refused: {}",
        text(&second)
    );
    let mb = c.graph.mailbox(ALICE);
    assert_landed_once(&cards, &mb.contacts.in_folder("Contacts"));
    assert_eq!(failed_reasons(&p).len(), 2, "{:?}", failed_reasons(&p));
    assert_eq!(
        mb.contacts.creates as usize,
        cards.len(),
        "one create per contact"
    );
}

#[test]
fn a_lost_create_not_yet_listed_is_found_by_its_extended_property() {
    let s = source();
    s.dav.seed(SRC.0, SRC.1, Scale::Small);
    let (cards, _) = source_cards(&s.dav.dump(SRC.0, SRC.1, false));
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    let c = cloud(graph);
    let p = project(
        imap_dav(&s),
        graph_endpoint(&c),
        project::login(SRC.0, SRC.1),
        project::user(ALICE),
    );
    // The first create is stored, its answer lost, and the folder's listing does not show
    // it yet: only the search by the source UID's extended property finds it.
    c.graph.store_then_fail_contacts(ALICE, 1);
    c.graph.contact_listing_lag(ALICE, true);
    let first = cutover(&p, &["run"]);
    assert_ne!(first.status.code(), Some(0), "{}", text(&first));
    let second = cutover(&p, &["run"]);
    assert_eq!(second.status.code(), Some(6), "{}", text(&second));
    let mb = c.graph.mailbox(ALICE);
    assert!(
        mb.contacts.filter_queries >= 1,
        "the lost create was searched for"
    );
    assert_eq!(
        mb.contacts.creates as usize,
        cards.len(),
        "the lost create was not sent again"
    );
    c.graph.contact_listing_lag(ALICE, false);
    assert_landed_once(
        &cards,
        &c.graph.mailbox(ALICE).contacts.in_folder("Contacts"),
    );
    // Once the listing caught up, the run finds everything there and verify compares
    // equal (but for the two groups, which stay refused).
    let third = cutover(&p, &["run"]);
    assert_eq!(run_counts(&third), (0, 0), "{}", text(&third));
}

#[test]
fn graph_contacts_to_imap_dav_are_vcards_with_their_fields_and_photo() {
    let root = tmp();
    let dst = Dovecot::start(root.path(), "dst", &[("alice", "dst-pw")], &[]);
    let dav = Radicale::start(root.path(), "dst-dav", &[("alice", "dst-pw")]);
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    let c = cloud(graph);
    let jpeg: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 0xFF, 0xD9];
    c.graph.seed_contact(
        ALICE,
        None,
        json!({
            "displayName": "Zoë Ångström", "givenName": "Zoë", "surname": "Ångström",
            "companyName": "Acme, Inc.", "jobTitle": "Head",
            "emailAddresses": [{"address": "zoe@acme.example"}, {"address": "z@home.example"}],
            "mobilePhone": "+49 1", "businessPhones": ["+49 3"],
            "homeAddress": {"street": "Main St 1", "city": "Berlin", "postalCode": "10115", "countryOrRegion": "Germany"},
            "birthday": "1990-05-01T00:00:00Z", "personalNotes": "line1\nline2",
            "categories": ["friends"],
        }),
        Some(("image/jpeg", jpeg)),
    );
    let fid = c.graph.seed_contact_folder(ALICE, "Suppliers");
    c.graph.seed_contact(
        ALICE,
        Some(&fid),
        json!({"displayName": "Bob Supplier", "emailAddresses": [{"address": "bob@s.example"}]}),
        None,
    );
    let mut dst_t = project::imap(dst.port);
    let mut d = toml::Table::new();
    d.insert("url".into(), format!("{}/", dav.url()).into());
    d.insert("security".into(), "none".into());
    dst_t.insert("dav".into(), d.into());
    let p = project(
        graph_endpoint(&c),
        dst_t,
        project::user(ALICE),
        project::login("alice", "dst-pw"),
    );
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let items = dav.dump("alice", "dst-pw", false);
    let cards: Vec<&DavItem> = items.iter().filter(|i| i.kind == "addressbook").collect();
    assert_eq!(cards.len(), 2, "{cards:?}");
    let zoe = cards
        .iter()
        .find(|i| i.content.contains("Zoë"))
        .expect("Zoë's card");
    assert_eq!(zoe.collection, "default");
    for want in [
        "FN:Zoë Ångström",
        "ORG:Acme\\, Inc.",
        "TITLE:Head",
        "EMAIL:zoe@acme.example",
        "EMAIL:z@home.example",
        "BDAY:19900501",
        "CATEGORIES:friends",
    ] {
        assert!(zoe.content.contains(want), "{want} in {}", zoe.content);
    }
    let unfolded = zoe.content.replace("\r\n ", "").replace("\n ", "");
    let b64 = base64::engine::general_purpose::STANDARD.encode(jpeg);
    assert!(unfolded.contains(&b64), "the photo: {unfolded}");
    let bob = cards.iter().find(|i| i.content.contains("Bob")).unwrap();
    assert_eq!(bob.collection, "Suppliers");
    let again = cutover(&p, &["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

#[test]
fn graph_to_graph_contacts_keep_their_identity_follow_source_changes_and_roll_back() {
    const BOB: &str = "bob@fabrikam.com";
    let graph = FakeGraph::new(GraphConfig::default())
        .with_mailbox("contoso", ALICE)
        .with_mailbox("fabrikam", BOB);
    let c = cloud(graph);
    let jpeg: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 9, 8, 7, 0xFF, 0xD9];
    let zoe = c.graph.seed_contact(
        BOB,
        None,
        json!({
            "displayName": "Zoë Ångström", "givenName": "Zoë", "surname": "Ångström",
            "jobTitle": "Head", "companyName": "Acme", "department": "Sales",
            "emailAddresses": [{"address": "zoe@acme.example"}],
            "homePhones": ["+49 2"], "personalNotes": "first; second, third",
        }),
        Some(("image/jpeg", jpeg)),
    );
    let fid = c.graph.seed_contact_folder(BOB, "Suppliers");
    let sup = c.graph.seed_contact(
        BOB,
        Some(&fid),
        json!({"displayName": "Sam Supplier", "emailAddresses": [{"address": "sam@s.example"}]}),
        None,
    );
    let p = project(
        tenant_endpoint(&c, "fabrikam", "app-2", "CUTOVER_TEST_SECRET_2"),
        graph_endpoint(&c),
        project::user(BOB),
        project::user(ALICE),
    );
    // `check` names what each side's app registration must be granted for what moves.
    let check = cutover(&p, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let said = stdout(&check);
    assert!(
        said.contains("application permissions (admin consent) for what this project moves: Mail.Read, Contacts.Read\n")
            && said.contains(
                "application permissions (admin consent) for what this project moves: Mail.ReadWrite, Mail-Advanced.ReadWrite.All, Contacts.ReadWrite\n"
            ),
        "{said}"
    );
    // Contacts go through the same per-mailbox limits and 429s as mail.
    c.graph.throttle_next(ALICE, 3);
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        c.graph.stats().throttled >= 3,
        "the 429s were met and waited out"
    );
    let mb = c.graph.mailbox(ALICE);
    let home = mb.contacts.in_folder("Contacts");
    assert_eq!(home.len(), 1, "{home:?}");
    let z = home[0].clone();
    assert_eq!(z.fields["jobTitle"], json!("Head"));
    assert_eq!(z.fields["department"], json!("Sales"));
    assert_eq!(z.fields["homePhones"], json!(["+49 2"]));
    assert_eq!(z.fields["personalNotes"], json!("first; second, third"));
    assert_eq!(z.photo.as_ref().map(|p| p.1.as_slice()), Some(jpeg));
    let uid_of = |x: &FakeContact| {
        x.props
            .iter()
            .find(|(k, _)| k.contains(UID_PROP))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        uid_of(&z).as_deref(),
        Some(zoe.as_str()),
        "the source identity"
    );
    let sups = mb.contacts.in_folder("Suppliers");
    assert_eq!(sups.len(), 1, "the folder is created with its contact");
    assert_eq!(uid_of(&sups[0]).as_deref(), Some(sup.as_str()));
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = cutover(&p, &["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));

    // Changed on the source: the newer version replaces what cutover wrote.
    c.graph
        .edit_contact(BOB, &zoe, json!({"jobTitle": "Chief"}));
    // Changed on both sides: the destination user's edit is kept, and the issue says so.
    let dst_sup = sups[0].id.clone();
    c.graph
        .edit_contact(ALICE, &dst_sup, json!({"jobTitle": "Edited by Alice"}));
    c.graph
        .edit_contact(BOB, &sup, json!({"jobTitle": "Buyer"}));
    // The user's edit kept is a warning (the conflict rule of delta passes): the run completes.
    let changed = cutover(&p, &["run"]);
    assert_eq!(changed.status.code(), Some(0), "{}", text(&changed));
    let mb = c.graph.mailbox(ALICE);
    let home = mb.contacts.in_folder("Contacts");
    assert_eq!(home.len(), 1, "replaced, not added: {home:?}");
    assert_eq!(home[0].id, z.id, "the same contact");
    assert_eq!(home[0].fields["jobTitle"], json!("Chief"));
    assert_eq!(home[0].photo.as_ref().map(|p| p.1.as_slice()), Some(jpeg));
    let sups = mb.contacts.in_folder("Suppliers");
    assert_eq!(sups.len(), 1);
    assert_eq!(sups[0].fields["jobTitle"], json!("Edited by Alice"));
    let issues = all_issues(&p.journal());
    assert!(
        issues.iter().any(|i| i.severity == "warning"
            && i.message.contains(sup.as_str())
            && i.message.contains("changed on the destination")),
        "{issues:#?}"
    );

    let rb = cutover(&p, &["rollback", "--batch", "default", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    let mb = c.graph.mailbox(ALICE);
    assert!(
        mb.contacts.contacts.is_empty(),
        "{:?}",
        mb.contacts.contacts
    );
    assert!(mb.contacts.folders.is_empty(), "{:?}", mb.contacts.folders);
}

#[test]
fn a_contact_left_without_its_photo_is_completed_not_created_again() {
    let s = source();
    let seeded = s.dav.seed(SRC.0, SRC.1, Scale::Small);
    let (cards, _) = source_cards(&s.dav.dump(SRC.0, SRC.1, false));
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    let c = cloud(graph);
    let p = project(
        imap_dav(&s),
        graph_endpoint(&c),
        project::login(SRC.0, SRC.1),
        project::user(ALICE),
    );
    // The first photo upload fails after its contact was created: the contact is there
    // with the source UID but without its photo and source text.
    c.graph.fail_contact_photos(ALICE, 1);
    let first = cutover(&p, &["run"]);
    assert_ne!(first.status.code(), Some(0), "{}", text(&first));
    let unfinished: Vec<FakeContact> = c
        .graph
        .mailbox(ALICE)
        .contacts
        .contacts
        .into_iter()
        .filter(|x| x.photo.is_none() && x.props.keys().all(|k| !k.contains(VCARD_PROP)))
        .collect();
    assert_eq!(unfinished.len(), 1, "{unfinished:?}");
    let second = cutover(&p, &["run"]);
    assert_eq!(second.status.code(), Some(6), "{}", text(&second));
    let mb = c.graph.mailbox(ALICE);
    assert_landed_once(&cards, &mb.contacts.in_folder("Contacts"));
    assert_eq!(
        mb.contacts.creates as usize,
        cards.len(),
        "completed, not created again"
    );
    assert!(seeded.features["photos"] >= 2);
}
