//! Microsoft 365 to Microsoft 365 (the fake Graph's directory): the calendar delegates of the
//! project's USER mailboxes are discovered (only those: a user outside the project keeps its
//! own), journalled as grants on that user's mailbox, recreated through Graph (Reviewer,
//! Editor, Delegate) once, read back by `--check` and removed by `rollback --recipients`;
//! the CSV gives them too (`Type` `user`).

use crate::google_calendar::tmp;
use crate::support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use support::fake_cloud::FakeCloud;
use support::fake_cloud::graph::{FakeGraph, GraphConfig};
use support::fake_cloud::token::Tokens;
use support::project::ProjectBuilder;
use support::*;

const S_ANN: &str = "ann@fabrikam.com";
const S_BO: &str = "bo@fabrikam.com";
const S_CY: &str = "cy@fabrikam.com";
const S_OUT: &str = "out@fabrikam.com";
const D_ANN: &str = "ann@contoso.com";
const D_BO: &str = "bo@contoso.com";
const D_CY: &str = "cy@contoso.com";

#[test]
fn m365_user_mailboxes_calendar_delegates_discovered_created_checked_rolled_back() {
    let tokens = Tokens::new(Duration::from_secs(3600)).with_client("contoso", "app", "secret");
    let graph = Arc::new(FakeGraph::new(GraphConfig::default()));
    let cloud = FakeCloud::start_with(tokens, |t| {
        support::fake_cloud::graph::router(graph.clone(), t)
    });
    let dirg = &graph.directory;
    // The source's users (one of them not in the project) and the destination's.
    for (a, n) in [(S_ANN, "Ann"), (S_BO, "Bo"), (S_CY, "Cy"), (S_OUT, "Out")] {
        dirg.add_user(a, n, "user");
    }
    for (a, n) in [(D_ANN, "Ann"), (D_BO, "Bo"), (D_CY, "Cy")] {
        dirg.add_user(a, n, "user");
    }
    dirg.add_calendar_permission(S_ANN, S_BO, "write");
    dirg.add_calendar_permission(S_ANN, S_CY, "delegateWithPrivateEventAccess");
    dirg.add_calendar_permission(S_BO, S_ANN, "limitedRead");
    // Not a project mailbox: not read, not recreated.
    dirg.add_calendar_permission(S_OUT, S_ANN, "read");

    let url = cloud.url();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/m365-tenant-to-tenant.toml");
    let pdir = tmp();
    let mut b = ProjectBuilder::load(&example)
        .set("project.state", "state.sqlite")
        .set("recipients.csv", "recipients.csv")
        .remove("mailbox");
    for side in ["source", "destination"] {
        b = b
            .set(&format!("{side}.api_url"), url.as_str())
            .set(&format!("{side}.oauth.tenant"), "contoso")
            .set(&format!("{side}.oauth.client_id"), "app")
            .set(
                &format!("{side}.oauth.client_secret_env"),
                "H6_GRAPH_SECRET",
            )
            .set(
                &format!("{side}.oauth.token_url"),
                format!("{url}/contoso/oauth2/v2.0/token"),
            );
    }
    for (s, d) in [(S_ANN, D_ANN), (S_BO, D_BO), (S_CY, D_CY)] {
        b = b.mailbox(support::project::mailbox(
            Some("pilot"),
            support::project::user(s),
            support::project::user(d),
        ));
    }
    let path = b.write(pdir.path());
    // What an IMAP source cannot say, the CSV says: Cy's calendar, Reviewer for Ann.
    std::fs::write(
        pdir.path().join("recipients.csv"),
        "Type,Address,DisplayName,Members,Aliases,Access\n\
         user,cy@contoso.com,Cy,,,ann@contoso.com:CalendarReviewer\n",
    )
    .unwrap();
    let run = |args: &[&str]| -> Output {
        Command::new(bin())
            .arg(args[0])
            .arg(&path)
            .args(&args[1..])
            .env("H6_GRAPH_SECRET", "secret")
            .output()
            .unwrap()
    };

    let first = run(&["recipients"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let o = stdout(&first);
    for want in [
        "recipients from recipients.csv, graph: 2 user",
        "ann@contoso.com (Ann)\n    access: bo@contoso.com has CalendarEditor\n    access: cy@contoso.com has CalendarDelegate\n",
        "cy@contoso.com (Cy)\n    access: ann@contoso.com has CalendarReviewer\n",
        "note: bo@fabrikam.com: calendar role \"limitedRead\" of ann@fabrikam.com has no equivalent right here",
        "created  grant bo@contoso.com CalendarEditor on ann@contoso.com",
        "created  grant cy@contoso.com CalendarDelegate on ann@contoso.com",
        "created  grant ann@contoso.com CalendarReviewer on cy@contoso.com",
    ] {
        assert!(o.contains(want), "{want:?} in {o}");
    }
    assert!(!o.contains("out@"), "only the project's mailboxes: {o}");
    let mut ann = dirg.calendar_permissions(D_ANN);
    ann.sort();
    assert_eq!(
        ann,
        [
            (D_BO.to_string(), "write".to_string()),
            (
                D_CY.to_string(),
                "delegateWithoutPrivateEventAccess".to_string()
            )
        ]
    );
    assert_eq!(
        dirg.calendar_permissions(D_CY),
        [(D_ANN.to_string(), "read".to_string())]
    );

    // Again: nothing created twice.
    let again = run(&["recipients"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        stdout(&again).contains("present  grant bo@contoso.com CalendarEditor on ann@contoso.com"),
        "{}",
        stdout(&again)
    );
    assert_eq!(dirg.permission_adds.load(Ordering::SeqCst), 3);

    let c = run(&["recipients", "--check"]);
    assert_eq!(c.status.code(), Some(0), "{}", text(&c));
    let o = stdout(&c);
    assert!(o.contains("user         ann@contoso.com present"), "{o}");
    assert!(o.contains("user         cy@contoso.com present"), "{o}");

    // A delegate removed on the destination: --check says so.
    dirg.remove_calendar_permission(D_ANN, D_CY);
    let c = run(&["recipients", "--check"]);
    assert_eq!(c.status.code(), Some(6), "{}", text(&c));
    assert!(
        stdout(&c).contains("cy@contoso.com has no CalendarDelegate"),
        "{}",
        stdout(&c)
    );

    let rb = run(&["rollback", "--recipients", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    assert!(dirg.calendar_permissions(D_ANN).is_empty(), "{}", text(&rb));
    assert!(dirg.calendar_permissions(D_CY).is_empty(), "{}", text(&rb));
    // The source is never touched.
    assert_eq!(dirg.calendar_permissions(S_ANN).len(), 2);
    assert_eq!(dirg.calendar_permissions(S_OUT).len(), 1);
}
