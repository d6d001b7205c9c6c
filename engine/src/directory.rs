//! The kinds of mailbox (`type` on `[[mailbox]]`) and of recipient (`[recipients]`), and the
//! rights users hold on them: shared by the project file, the journal, the operations and the
//! console (re-exported by `api`).

use crate::words::words;

/// What kind of mailbox an entry is (`type` on `[[mailbox]]`, the `Type` column of the mailbox
/// CSV). Every kind migrates the same way (mail, calendars, contacts); the kind is carried to
/// the journal and counted separately in the console, the plan, the run summary and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum MailboxType {
    #[default]
    User,
    Shared,
    Room,
    Equipment,
}

words!(MailboxType {
    User => "user",
    Shared => "shared",
    Room => "room",
    Equipment => "equipment",
});

impl MailboxType {
    /// Every kind, in the order they are listed and counted.
    pub const ALL: [MailboxType; 4] = [
        MailboxType::User,
        MailboxType::Shared,
        MailboxType::Room,
        MailboxType::Equipment,
    ];

    /// The allowed words, for error messages: `user, shared, room, equipment`.
    pub fn allowed() -> String {
        MailboxType::ALL.map(|t| t.as_str()).join(", ")
    }

    /// Count of each kind among `types`, in [`MailboxType::ALL`] order, kinds with none left
    /// out: "2 user, 1 shared".
    pub fn summary(types: impl IntoIterator<Item = MailboxType>) -> String {
        let mut n = [0usize; 4];
        for t in types {
            n[t as usize] += 1;
        }
        MailboxType::ALL
            .iter()
            .zip(n)
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| format!("{n} {t}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a recipient of the `[recipients]` CSV is: a mailbox that is not a user's, or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecipientKind {
    Shared,
    Room,
    Equipment,
    /// An Exchange distribution list.
    Distribution,
    /// A Microsoft 365 (unified) group.
    M365Group,
    /// A mail-enabled security group.
    Security,
    /// A user's own mailbox, listed for who has access to it (calendar delegates, FullAccess,
    /// SendAs): never created by cutover (it is migrated as a user), only its rights.
    User,
}

words!(RecipientKind {
    Shared => "shared",
    Room => "room",
    Equipment => "equipment",
    Distribution => "distribution",
    M365Group => "m365group",
    Security => "security",
    User => "user",
});

impl RecipientKind {
    pub const ALL: [RecipientKind; 7] = [
        RecipientKind::Shared,
        RecipientKind::Room,
        RecipientKind::Equipment,
        RecipientKind::Distribution,
        RecipientKind::M365Group,
        RecipientKind::Security,
        RecipientKind::User,
    ];

    /// A mailbox (shared, room, equipment, a user's) rather than a group.
    pub fn is_mailbox(self) -> bool {
        matches!(
            self,
            RecipientKind::Shared
                | RecipientKind::Room
                | RecipientKind::Equipment
                | RecipientKind::User
        )
    }

    /// The allowed words, for error messages.
    pub fn allowed() -> String {
        RecipientKind::ALL.map(|t| t.as_str()).join(", ")
    }
}

/// A right a user holds on a recipient (the CSV's `Access` column: `user:Right`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessRight {
    /// Open the mailbox (Add-MailboxPermission -AccessRights FullAccess).
    FullAccess,
    /// Send as the recipient (Add-RecipientPermission -AccessRights SendAs).
    SendAs,
    /// Send on behalf of it (Set-Mailbox / Set-DistributionGroup -GrantSendOnBehalfTo).
    SendOnBehalf,
    /// Calendar folder permissions (Add-MailboxFolderPermission on `:\Calendar`).
    CalendarOwner,
    CalendarEditor,
    CalendarAuthor,
    CalendarReviewer,
    /// Editor with the delegate flag: receives meeting requests.
    CalendarDelegate,
}

words!(AccessRight {
    FullAccess => "FullAccess",
    SendAs => "SendAs",
    SendOnBehalf => "SendOnBehalf",
    CalendarOwner => "CalendarOwner",
    CalendarEditor => "CalendarEditor",
    CalendarAuthor => "CalendarAuthor",
    CalendarReviewer => "CalendarReviewer",
    CalendarDelegate => "CalendarDelegate",
});

impl AccessRight {
    pub const ALL: [AccessRight; 8] = [
        AccessRight::FullAccess,
        AccessRight::SendAs,
        AccessRight::SendOnBehalf,
        AccessRight::CalendarOwner,
        AccessRight::CalendarEditor,
        AccessRight::CalendarAuthor,
        AccessRight::CalendarReviewer,
        AccessRight::CalendarDelegate,
    ];

    /// A right word, case-insensitive.
    pub fn parse_any(word: &str) -> Option<AccessRight> {
        AccessRight::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(word.trim()))
    }

    /// A calendar folder permission rather than a mailbox or send right.
    pub fn is_calendar(self) -> bool {
        matches!(
            self,
            AccessRight::CalendarOwner
                | AccessRight::CalendarEditor
                | AccessRight::CalendarAuthor
                | AccessRight::CalendarReviewer
                | AccessRight::CalendarDelegate
        )
    }

    /// The allowed words, for error messages.
    pub fn allowed() -> String {
        AccessRight::ALL.map(|t| t.as_str()).join(", ")
    }
}
