//! The steps that recreate the recipients on the destination, in the order they must run:
//! mailboxes and groups first, then aliases, members (which may be other groups), owners, then
//! rights.

use crate::api::{AccessRight, RecipientKind};
use crate::config::Recipient;

/// One thing to make true on the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A shared, room or equipment mailbox, or a list or group, with its display name.
    Create {
        kind: RecipientKind,
        display_name: String,
    },
    Alias(String),
    Member(String),
    /// An owner of a group (found through a directory API; the CSV has none).
    Owner(String),
    Grant {
        user: String,
        right: AccessRight,
    },
}

/// An action on one recipient (its address and kind), with the CSV line it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub address: String,
    pub kind: RecipientKind,
    pub line: usize,
    pub action: Action,
}

impl Step {
    /// What the step does, for people: "create shared mailbox info@example.com".
    pub fn describe(&self) -> String {
        let what = |k: RecipientKind| match k {
            RecipientKind::Shared | RecipientKind::Room | RecipientKind::Equipment => {
                format!("{k} mailbox")
            }
            RecipientKind::Distribution => "distribution list".into(),
            RecipientKind::M365Group => "Microsoft 365 group".into(),
            RecipientKind::Security => "mail-enabled security group".into(),
            RecipientKind::User => "user mailbox".into(),
        };
        match &self.action {
            Action::Create { kind, .. } => format!("create {} {}", what(*kind), self.address),
            Action::Alias(a) => format!("add alias {a} to {}", self.address),
            Action::Member(m) => format!("add member {m} to {}", self.address),
            Action::Owner(m) => format!("add owner {m} to {}", self.address),
            Action::Grant { user, right } => format!("grant {user} {right} on {}", self.address),
        }
    }

    /// Microsoft Graph can do this step itself, and `cutover recipients` does it: Microsoft
    /// 365 groups, their members and owners, calendar permissions with a Graph role (Reviewer,
    /// Editor, Delegate). Graph cannot create mail-enabled security groups or distribution
    /// lists nor change their members, set aliases, FullAccess, SendAs or SendOnBehalf: the
    /// Exchange Online script does those.
    pub fn graph_can(&self) -> bool {
        match &self.action {
            Action::Create { .. } | Action::Member(_) | Action::Owner(_) => {
                self.kind == RecipientKind::M365Group
            }
            Action::Grant { right, .. } => matches!(
                right,
                AccessRight::CalendarReviewer
                    | AccessRight::CalendarEditor
                    | AccessRight::CalendarDelegate
            ),
            Action::Alias(_) => false,
        }
    }
}

/// Every step for these recipients, in the order they must run.
pub fn steps(recipients: &[Recipient]) -> Vec<Step> {
    let step = |r: &Recipient, action: Action| Step {
        address: r.address.clone(),
        kind: r.kind,
        line: r.line,
        action,
    };
    let mut out = Vec::new();
    // Mailboxes before groups: a group may list a shared mailbox as a member. A user's
    // mailbox is not created here (it is migrated as a user): only its rights are steps.
    for r in recipients
        .iter()
        .filter(|r| r.kind.is_mailbox() && r.kind != RecipientKind::User)
    {
        out.push(step(r, create(r)));
    }
    for r in recipients.iter().filter(|r| !r.kind.is_mailbox()) {
        out.push(step(r, create(r)));
    }
    for r in recipients {
        out.extend(r.aliases.iter().map(|a| step(r, Action::Alias(a.clone()))));
    }
    for r in recipients {
        out.extend(r.members.iter().map(|m| step(r, Action::Member(m.clone()))));
    }
    // Owners after members: on Google an owner already a member gets the role OWNER.
    for r in recipients.iter().filter(|r| !r.kind.is_mailbox()) {
        out.extend(r.owners.iter().map(|m| step(r, Action::Owner(m.clone()))));
    }
    for r in recipients {
        out.extend(r.access.iter().map(|g| {
            step(
                r,
                Action::Grant {
                    user: g.user.clone(),
                    right: g.right,
                },
            )
        }));
    }
    out
}

fn create(r: &Recipient) -> Action {
    Action::Create {
        kind: r.kind,
        display_name: r.display_name.clone(),
    }
}
