//! `cutover check`: the project file checked and summarised; connects to nothing.

use cutover_engine::config::{self, Project};

use crate::exit::ExitCode;

pub fn check(project: &Project) -> ExitCode {
    println!("project  {}", project.name);
    println!("journal  {}", project.journal_name());
    for (side, e) in [
        ("source", &project.source),
        ("destination", &project.destination),
    ] {
        if let Some(dir) = &e.path {
            println!(
                "{side:<11} Maildir {} (mail_location = maildir:{}/%u:LAYOUT=fs) max_connections={}",
                dir.display(),
                dir.display(),
                e.max_connections
            );
        } else if e.kind.is_api() {
            println!(
                "{side:<11} {:?} {} preset={:?} max_connections={}{}",
                e.kind,
                e.api_url,
                e.preset,
                e.max_connections,
                if e.kind == config::EndpointKind::Graph && side == "destination" {
                    match e.graph_import {
                        config::GraphImport::Mime => " graph_import=mime",
                        config::GraphImport::Json => " graph_import=json",
                        config::GraphImport::ExportImport => " graph_import=export-import",
                    }
                    .to_string()
                } else {
                    String::new()
                }
            );
        } else {
            println!(
                "{side:<11} {:?} {}:{} security={:?} preset={:?} max_connections={}",
                e.kind, e.host, e.port, e.security, e.preset, e.max_connections
            );
        }
        let permissions = cutover_engine::config::permissions::needed(
            e.kind,
            side == "source",
            &project.items,
            e.graph_import,
        );
        if !permissions.is_empty() {
            println!(
                "{:<11} {} for what this project moves: {}",
                "",
                match e.kind {
                    config::EndpointKind::Gmail => "OAuth scopes (domain-wide delegation)",
                    _ => "application permissions (admin consent)",
                },
                permissions.join(", ")
            );
        }
        if let Some(d) = &e.dav {
            println!(
                "{:<11} calendars and contacts: CalDAV/CardDAV at {} security={:?}{}",
                "",
                d.url,
                d.security,
                if project.items.any_dav() {
                    ""
                } else {
                    " (not used: project.items moves mail only)"
                }
            );
        }
        if let Some(o) = &e.oauth {
            let credential = match (o.flow, &o.client_secret, &o.certificate_file) {
                (config::OAuthFlow::DeviceCode, ..) => format!(
                    "sign-ins in {}",
                    cutover_engine::endpoint::oauth::token_file_for(&project.state_path).display()
                ),
                (config::OAuthFlow::ClientCredentials, Some(_), _) => "client secret".into(),
                (config::OAuthFlow::ClientCredentials, None, Some(c)) => {
                    format!("certificate {}", c.display())
                }
                _ => o
                    .service_account_file
                    .as_ref()
                    .map(|f| format!("service account key {}", f.display()))
                    .unwrap_or_default(),
            };
            println!(
                "{:<11} oauth {:?} {:?} client {} ({credential})",
                "",
                o.provider,
                o.flow,
                o.client_id.as_deref().unwrap_or("-"),
            );
        }
    }
    let items = &project.items;
    println!(
        "items    {}{}",
        items.words().join(", "),
        match items.calendar_since {
            Some(d) if items.calendar => format!(" (events ending on or after {d})"),
            _ => String::new(),
        }
    );
    let mut batches: Vec<&str> = project.mailboxes.iter().map(|m| m.batch.as_str()).collect();
    batches.sort();
    batches.dedup();
    println!(
        "mailboxes {} in batches {}",
        project.mailboxes.len(),
        batches.join(", ")
    );
    if project
        .mailboxes
        .iter()
        .any(|m| m.mailbox_type != cutover_engine::api::MailboxType::User)
    {
        println!(
            "types    {}",
            cutover_engine::api::MailboxType::summary(
                project.mailboxes.iter().map(|m| m.mailbox_type)
            )
        );
    }
    if let Some(f) = &project.recipients.file {
        println!(
            "recipients {} listed in {} (cutover recipients PROJECT for the plan)",
            project.recipients.list.len(),
            f.display()
        );
    }
    if project.checks.is_empty() {
        println!(
            "checklist none: nothing gates a start (add [checklist] defaults = true or [[check]] items)"
        );
    } else {
        println!(
            "checklist {} item(s), {} required ({} verified by the engine)",
            project.checks.len(),
            project.checks.iter().filter(|c| c.required).count(),
            project
                .checks
                .iter()
                .filter(|c| c.kind == config::CheckKind::Auto)
                .count()
        );
    }
    // What `cutover finalize` will expect of the DNS (the preset's values included).
    let dns = &project.dns;
    if let Some(domain) = &dns.domain {
        let or_none = |v: &[String]| {
            if v.is_empty() {
                "not checked".to_string()
            } else {
                v.join(", ")
            }
        };
        println!(
            "dns      {domain}: MX {}; autodiscover CNAME {}; SPF include {}; DKIM selectors {}",
            or_none(&dns.mx),
            dns.autodiscover.as_deref().unwrap_or("not checked"),
            or_none(&dns.spf_include),
            or_none(&dns.dkim_selectors)
        );
    }
    ExitCode::Success
}
