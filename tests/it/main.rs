//! The integration tests, one binary (it links once): a module per area. Each area starts
//! its own throwaway servers (Dovecot, fake clouds) on 127.0.0.1; see `support`.

#![allow(clippy::unwrap_used)]

mod support;
mod ui_fixture;

mod access;
mod assess;
mod backup;
mod checklist_cli;
mod cli_conventions;
mod cloud_ceiling;
mod compress;
mod config;
mod console_e2e;
mod dav;
mod dav_delta;
mod dav_fixture;
mod dav_views;
mod emergency;
mod faults;
mod finalize;
mod fleet;
mod fleet_console_e2e;
mod fleet_stop;
mod fleet_view;
mod folder_names;
mod gmail;
mod gmail_history;
mod gmail_labels;
mod google_calendar;
mod google_contacts;
mod google_workspace;
mod graph;
mod graph_calendar;
mod graph_contacts;
mod graph_delta;
mod graph_export_import;
mod hostile_input;
mod hostile_server;
mod journal_writes;
mod local_hygiene;
mod mailbox_types;
mod maildir;
mod migrate;
mod multiappend;
mod oauth;
mod pop3;
mod postgres_journal;
mod recipients;
mod recipients_directory;
mod recipients_graph;
mod report;
mod report_browser;
mod report_golden;
mod resume;
mod round_trips;
mod scenarios;
mod signals;
mod split;
mod sync_delta;
mod terminal_safety;
mod ui_app;
mod ui_render;
mod verify_content;
