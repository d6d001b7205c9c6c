//! Deterministic engine states for console tests.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use cutover_engine::api::Totals;
use cutover_engine::api::*;

fn tp(samples: &[(u64, u64)]) -> Throughput {
    let mut t = Throughput::default();
    for s in samples {
        t.push_second(s.0, s.1);
    }
    t
}

fn mailbox(key: &str, batch: &str, state: &str, copied: u64, total: u64) -> MailboxView {
    MailboxView {
        key: key.into(),
        batch: batch.into(),
        mailbox_type: if key.starts_with("info") {
            MailboxType::Shared
        } else {
            MailboxType::User
        },
        state: state.into(),
        current_folder: (state == "running").then(|| "Archive/2024".to_string()),
        folders_done: if state == "done" { 15 } else { 6 },
        folders_total: Some(15),
        // A running mailbox may still have folders to enumerate; the others are complete.
        enumerated: state != "running" && state != "new",
        totals: Totals {
            messages: total,
            bytes: total * 50_000,
            copied,
            copied_bytes: copied * 50_000,
            skipped: 0,
            failed: 0,
            pending: total - copied,
            ..Default::default()
        },
        throughput: tp(&[
            (120, 6_000_000),
            (140, 7_000_000),
            (130, 6_500_000),
            (150, 7_500_000),
            (160, 8_000_000),
        ]),
        last_error: (state == "failed").then(|| {
            "login as bob refused: [AUTHENTICATIONFAILED] Authentication failed.".to_string()
        }),
        backup: match state {
            "done" => BackupState::Verified,
            "failed" => BackupState::Unverified,
            _ => BackupState::None,
        },
    }
}

pub enum Kind {
    Empty,
    Running,
    Throttled,
    Failed,
    Stopped,
}

pub fn snapshot(kind: Kind) -> Arc<Snapshot> {
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 22, 14, 5).unwrap();
    let started = Utc.with_ymd_and_hms(2026, 11, 24, 21, 2, 0).unwrap();
    let mut s = Snapshot {
        seq: 1,
        at,
        project: "Acme Corp: Google Workspace to Microsoft 365".into(),
        started: Some(started),
        log_dir: "/srv/acme/cutover-logs".into(),
        journal: "/srv/acme/acme.cutover.sqlite".into(),
        parallel: 4,
        connections: Connections {
            src_in_use: 0,
            src_max: 8,
            dst_in_use: 0,
            dst_max: 8,
            ..Default::default()
        },
        checks: vec![
            CheckView {
                id: "backup".into(),
                section: "Technical".into(),
                title: "Source backup verified".into(),
                required: true,
                done: true,
                by: Some("maria".into()),
                at: Some("2026-11-24T18:02:11Z".into()),
                note: Some("snapshot 4471".into()),
                auto: false,
                tickable: true,
                status: "pass".into(),
                reason: "ticked".into(),
            },
            CheckView {
                id: "dns".into(),
                section: "Technical".into(),
                title: "MX TTL lowered to 300 s".into(),
                required: true,
                done: false,
                by: None,
                at: None,
                note: None,
                auto: false,
                tickable: true,
                status: "pending".into(),
                reason: "not ticked yet".into(),
            },
            CheckView {
                id: "login".into(),
                section: "Technical".into(),
                title: "Every mailbox logs in on both sides".into(),
                required: true,
                done: false,
                by: None,
                at: Some("2026-11-24T18:05:40Z".into()),
                note: None,
                auto: true,
                tickable: false,
                status: "fail".into(),
                reason: "bob->bob@new.test: destination bob@new.test: login as bob@new.test refused: [AUTHENTICATIONFAILED] Authentication failed.".into(),
            },
            CheckView {
                id: "quota".into(),
                section: "Technical".into(),
                title: "Destination quota exceeds what will be copied".into(),
                required: true,
                done: false,
                by: Some("maria".into()),
                at: Some("2026-11-24T18:07:02Z".into()),
                note: None,
                auto: true,
                tickable: false,
                status: "overridden".into(),
                reason: "overridden by maria: quota raised by the customer, ticket 4711 (was fail: needs 12.3 GB, has 10.0 GB free)".into(),
            },
            CheckView {
                id: "mx".into(),
                section: "Technical".into(),
                title: "MX points to the destination".into(),
                required: false,
                done: false,
                by: None,
                at: None,
                note: None,
                auto: true,
                tickable: false,
                status: "n/a".into(),
                reason: "no [checklist] domain configured".into(),
            },
            CheckView {
                id: "comms".into(),
                section: "Business".into(),
                title: "Users told about the cutover window".into(),
                required: false,
                done: false,
                by: None,
                at: None,
                note: None,
                auto: false,
                tickable: true,
                status: "pending".into(),
                reason: "not ticked yet".into(),
            },
        ],
        ..Default::default()
    };
    let pilot = |st: &str| BatchView {
        name: "pilot".into(),
        mailboxes: vec![mailbox(
            "alice->alice@new.test",
            "pilot",
            st,
            if st == "new" { 0 } else { 1200 },
            if st == "new" { 0 } else { 1200 },
        )],
        throughput: tp(&[(0, 0), (10, 500_000)]),
        paused: false,
        parallel: 4,
        blocked: vec![],
        ..Default::default()
    };
    match kind {
        Kind::Empty => {
            s.batches = vec![
                pilot("new"),
                BatchView {
                    name: "wave-1".into(),
                    mailboxes: vec![mailbox("bob->bob@new.test", "wave-1", "new", 0, 0)],
                    ..Default::default()
                },
            ];
        }
        Kind::Running | Kind::Throttled | Kind::Failed | Kind::Stopped => {
            let st = match kind {
                Kind::Stopped => "stopped",
                _ => "running",
            };
            let bob = if matches!(kind, Kind::Failed) {
                mailbox("bob->bob@new.test", "wave-1", "failed", 0, 0)
            } else {
                mailbox("bob->bob@new.test", "wave-1", st, 512, 800)
            };
            s.batches = vec![
                {
                    let mut p = pilot("done");
                    p.mailboxes[0].state = "done".into();
                    // Delta passes every 15 min, the last one ended 4 min before the snapshot.
                    p.sync = SyncView {
                        passes: vec![PassView {
                            started: at - chrono::Duration::seconds(242),
                            duration: Some(std::time::Duration::from_millis(1_800)),
                            counts: PassCounts {
                                new_messages: 3,
                                flag_changes: 2,
                                moves: 1,
                                ..Default::default()
                            },
                            outcome: PassOutcome::Complete,
                            shared: false,
                        }],
                        every: Some(std::time::Duration::from_secs(900)),
                        ..Default::default()
                    };
                    p
                },
                BatchView {
                    name: "wave-1".into(),
                    mailboxes: vec![
                        bob,
                        mailbox("carol->carol@new.test", "wave-1", st, 233, 500),
                    ],
                    throughput: tp(&[
                        (200, 9_000_000),
                        (260, 12_000_000),
                        (240, 11_000_000),
                        (280, 13_000_000),
                        (300, 14_000_000),
                    ]),
                    paused: false,
                    parallel: 2,
                    blocked: vec!["login".into(), "dns".into()],
                    ..Default::default()
                },
            ];
            s.throughput = tp(&[
                (50, 2_000_000),
                (200, 9_000_000),
                (260, 12_000_000),
                (240, 11_000_000),
                (280, 13_000_000),
                (300, 14_000_000),
            ]);
            s.run_state = if matches!(kind, Kind::Stopped) {
                RunState::Stopped
            } else {
                RunState::Running
            };
            s.connections = if matches!(kind, Kind::Stopped) {
                Connections {
                    src_in_use: 0,
                    src_max: 8,
                    dst_in_use: 0,
                    dst_max: 8,
                    ..Default::default()
                }
            } else {
                Connections {
                    src_in_use: 6,
                    src_max: 8,
                    dst_in_use: 6,
                    dst_max: 8,
                    // The source link compressed (COMPRESS=DEFLATE), the destination not.
                    src_wire: Some(WireBytes {
                        wire_in: 40_000_000,
                        wire_out: 1_000_000,
                        plain_in: 104_000_000,
                        plain_out: 2_600_000,
                        compressed_sessions: 6,
                    }),
                    dst_wire: Some(WireBytes::default()),
                }
            };
            s.issues = vec![
                IssueView { id: 3, severity: "warning".into(), category: "oversize".into(), mailbox: Some("carol->carol@new.test".into()), folder: Some("INBOX".into()), uid: Some(4411), message: "message of 41.1 MB is over the destination's limit of 36.7 MB; not copied".into(), count: 1, last_seen: "2026-11-24T22:10:00.000Z".into(), state: "open".into(), first_seen: "2026-11-24T22:10:00.000Z".into(), ..Default::default() },
                IssueView { id: 2, severity: "info".into(), category: "resume".into(), mailbox: Some("bob->bob@new.test".into()), folder: Some("Sent".into()), uid: None, message: "resolved 12 in-doubt append(s) from an interrupted run: 12 found on the destination, 0 to send again".into(), count: 1, last_seen: "2026-11-24T22:05:00.000Z".into(), state: "open".into(), ..Default::default() },
            ];
            if matches!(kind, Kind::Throttled) {
                s.throttled = vec!["bob->bob@new.test".into()];
                s.issues.insert(
                    0,
                    IssueView {
                        id: 4,
                        severity: "warning".into(),
                        category: "throttling".into(),
                        mailbox: Some("bob->bob@new.test".into()),
                        folder: None,
                        uid: None,
                        message: "server asked to slow down".into(),
                        count: 7,
                        last_seen: "2026-11-24T22:14:00.000Z".into(),
                        state: "open".into(),
                        ..Default::default()
                    },
                );
            }
            if matches!(kind, Kind::Failed) {
                s.issues.insert(
                    0,
                    IssueView {
                        id: 5,
                        severity: "error".into(),
                        category: "auth".into(),
                        mailbox: Some("bob->bob@new.test".into()),
                        folder: None,
                        uid: None,
                        message:
                            "login as bob refused: [AUTHENTICATIONFAILED] Authentication failed."
                                .into(),
                        count: 3,
                        last_seen: "2026-11-24T22:13:00.000Z".into(),
                        state: "open".into(),
                        ..Default::default()
                    },
                );
            }
            if matches!(kind, Kind::Stopped) {
                s.issues.insert(
                    0,
                    IssueView {
                        id: 6,
                        severity: "critical".into(),
                        category: "operator".into(),
                        mailbox: None,
                        folder: None,
                        uid: None,
                        message:
                            "emergency stop by maria: all writes halted; 2 mailbox(es) were running"
                                .into(),
                        count: 1,
                        last_seen: "2026-11-24T22:14:01.000Z".into(),
                        state: "open".into(),
                        ..Default::default()
                    },
                );
            }
        }
    }
    Arc::new(s)
}
