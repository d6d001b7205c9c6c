//! The Exchange Online PowerShell 7 script for what Microsoft Graph cannot create: shared,
//! room and equipment mailboxes, distribution lists and their members, aliases, FullAccess,
//! SendAs, SendOnBehalf and calendar permissions (this version also writes the steps Graph
//! could do: Microsoft 365 and security groups, their members). Every value is a single-quoted
//! PowerShell string; every step checks before it changes anything, so the script runs again
//! without errors.

use std::fmt::Write;

use crate::api::{AccessRight, RecipientKind};
use crate::config::Recipient;

use super::steps::{Action, Step, steps};

/// A PowerShell single-quoted string: each quote character doubled. PowerShell reads the
/// typographic quotes (U+2018, U+2019, U+201A, U+201B) as single quotes too, so they are
/// doubled as well; nothing else is special inside single quotes.
pub fn powershell_quote(value: &str) -> String {
    let mut o = String::with_capacity(value.len() + 2);
    o.push('\'');
    for c in value.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            o.push(c);
        }
        o.push(c);
    }
    o.push('\'');
    o
}

const HEADER: &str = r#"#Requires -Version 7
# What it does: creates on Exchange Online the shared, room and equipment mailboxes,
# distribution lists and groups listed in the recipients CSV, adds their aliases and members,
# and grants FullAccess, SendAs, SendOnBehalf and calendar permissions. Microsoft Graph cannot
# create these, so cutover writes them here.
# Safe to run again: every step first checks whether it is already done and skips it then.
# Needs PowerShell 7 and the ExchangeOnlineManagement module, signed in as an Exchange
# administrator first:
#   Connect-ExchangeOnline -UserPrincipalName admin@example.com
# Then: pwsh ./this-script.ps1 ; afterwards tick the checklist item:
#   cutover checklist PROJECT --tick recipients --note "script run"
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
if (-not (Get-Command Get-EXOMailbox -ErrorAction SilentlyContinue)) {
    throw 'Not connected to Exchange Online: run Connect-ExchangeOnline first.'
}

# True when one of $Values names the recipient $Address (by address, name or id).
function Test-CutoverNames($Values, [string]$Address) {
    $names = @($Address)
    $r = Get-Recipient -Identity $Address -ErrorAction SilentlyContinue
    if ($r) {
        $names += @("$($r.Name)", "$($r.Identity)", "$($r.PrimarySmtpAddress)",
            "$($r.DistinguishedName)", "$($r.ExternalDirectoryObjectId)", "$($r.Alias)")
    }
    foreach ($v in @($Values)) { if ($null -ne $v -and $names -contains "$v") { return $true } }
    return $false
}

# The mailbox's calendar folder, whatever its language calls it.
function Get-CutoverCalendar([string]$Mailbox) {
    $f = Get-MailboxFolderStatistics -Identity $Mailbox -FolderScope Calendar |
        Where-Object { $_.FolderType -eq 'Calendar' } | Select-Object -First 1
    if (-not $f) { return "${Mailbox}:\Calendar" }
    return "${Mailbox}:" + ($f.FolderPath -replace '/', '\')
}
"#;

/// The whole script for these recipients. `project` and `source` (the CSV's name) go into
/// comments only, quoted.
pub fn script(project: &str, source: &str, recipients: &[Recipient]) -> String {
    let mut o = String::new();
    // A line break in a name would end the comment: control characters become '?'.
    let comment = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    };
    let _ = writeln!(
        o,
        "# cutover recipients script for project {} (from {}).",
        powershell_quote(&comment(project)),
        powershell_quote(&comment(source))
    );
    o.push_str(HEADER);
    let all = steps(recipients);
    let _ = writeln!(o, "\n# {} step(s).", all.len());
    for s in &all {
        // The comment holds the address (validated: no spaces, quotes or line breaks) and the
        // line; display names only appear quoted.
        let _ = writeln!(o, "\n# {} (line {})", s.describe(), s.line);
        step(&mut o, s);
    }
    o.push_str("\nWrite-Host 'cutover: every recipient step is done.'\n");
    o
}

fn get_cmd(kind: RecipientKind) -> (&'static str, &'static str) {
    match kind {
        RecipientKind::Shared
        | RecipientKind::Room
        | RecipientKind::Equipment
        | RecipientKind::User => ("Get-Mailbox", "Set-Mailbox"),
        RecipientKind::Distribution | RecipientKind::Security => {
            ("Get-DistributionGroup", "Set-DistributionGroup")
        }
        RecipientKind::M365Group => ("Get-UnifiedGroup", "Set-UnifiedGroup"),
    }
}

fn step(o: &mut String, s: &Step) {
    let id = powershell_quote(&s.address);
    let (get, set) = get_cmd(s.kind);
    match &s.action {
        Action::Create { kind, display_name } => {
            let name = powershell_quote(display_name);
            let new = match kind {
                RecipientKind::Shared => format!(
                    "New-Mailbox -Shared -Name {name} -DisplayName {name} -PrimarySmtpAddress {id}"
                ),
                RecipientKind::Room => format!(
                    "New-Mailbox -Room -Name {name} -DisplayName {name} -PrimarySmtpAddress {id}"
                ),
                RecipientKind::Equipment => format!(
                    "New-Mailbox -Equipment -Name {name} -DisplayName {name} -PrimarySmtpAddress {id}"
                ),
                RecipientKind::Distribution => format!(
                    "New-DistributionGroup -Type Distribution -Name {name} -DisplayName {name} -PrimarySmtpAddress {id}"
                ),
                RecipientKind::Security => format!(
                    "New-DistributionGroup -Type Security -Name {name} -DisplayName {name} -PrimarySmtpAddress {id}"
                ),
                RecipientKind::M365Group => {
                    format!("New-UnifiedGroup -DisplayName {name} -PrimarySmtpAddress {id}")
                }
                // Not a step cutover makes (a user is migrated, not created here).
                RecipientKind::User => format!(
                    "Write-Warning ('cutover: no mailbox ' + {id} + ': create the user first')"
                ),
            };
            let _ = writeln!(
                o,
                "if (-not ({get} -Identity {id} -ErrorAction SilentlyContinue)) {{\n    {new} | Out-Null\n}}"
            );
        }
        Action::Alias(a) => {
            let smtp = powershell_quote(&format!("smtp:{a}"));
            let _ = writeln!(
                o,
                "if (@(({get} -Identity {id}).EmailAddresses | ForEach-Object {{ \"$_\" }}) -notcontains {smtp}) {{\n    {set} -Identity {id} -EmailAddresses @{{add = {smtp}}}\n}}"
            );
        }
        Action::Member(m) => {
            let member = powershell_quote(m);
            let (list, add) = match s.kind {
                RecipientKind::M365Group => (
                    format!(
                        "Get-UnifiedGroupLinks -Identity {id} -LinkType Members -ResultSize Unlimited"
                    ),
                    format!(
                        "Add-UnifiedGroupLinks -Identity {id} -LinkType Members -Links {member}"
                    ),
                ),
                _ => (
                    format!("Get-DistributionGroupMember -Identity {id} -ResultSize Unlimited"),
                    format!("Add-DistributionGroupMember -Identity {id} -Member {member}"),
                ),
            };
            let _ = writeln!(
                o,
                "if (-not (Test-CutoverNames @({list} | ForEach-Object {{ $_.PrimarySmtpAddress }}) {member})) {{\n    {add}\n}}"
            );
        }
        Action::Owner(m) => {
            let owner = powershell_quote(m);
            let (list, add) = match s.kind {
                RecipientKind::M365Group => (
                    format!(
                        "@(Get-UnifiedGroupLinks -Identity {id} -LinkType Owners -ResultSize Unlimited | ForEach-Object {{ $_.PrimarySmtpAddress }})"
                    ),
                    format!("Add-UnifiedGroupLinks -Identity {id} -LinkType Owners -Links {owner}"),
                ),
                _ => (
                    format!("({get} -Identity {id}).ManagedBy"),
                    format!("{set} -Identity {id} -ManagedBy @{{add = {owner}}}"),
                ),
            };
            let _ = writeln!(
                o,
                "if (-not (Test-CutoverNames {list} {owner})) {{\n    {add}\n}}"
            );
        }
        Action::Grant { user, right } => grant(o, s, &id, user, *right),
    }
}

fn grant(o: &mut String, s: &Step, id: &str, user: &str, right: AccessRight) {
    let u = powershell_quote(user);
    let (get, set) = get_cmd(s.kind);
    match right {
        AccessRight::FullAccess => {
            let _ = writeln!(
                o,
                "if (-not (Get-MailboxPermission -Identity {id} -User {u} -ErrorAction SilentlyContinue |\n        Where-Object {{ \"$($_.AccessRights)\" -match 'FullAccess' -and -not $_.Deny }})) {{\n    Add-MailboxPermission -Identity {id} -User {u} -AccessRights FullAccess -InheritanceType All -AutoMapping $true | Out-Null\n}}"
            );
        }
        AccessRight::SendAs => {
            let _ = writeln!(
                o,
                "if (-not (Get-RecipientPermission -Identity {id} -Trustee {u} -ErrorAction SilentlyContinue |\n        Where-Object {{ \"$($_.AccessRights)\" -match 'SendAs' }})) {{\n    Add-RecipientPermission -Identity {id} -Trustee {u} -AccessRights SendAs -Confirm:$false | Out-Null\n}}"
            );
        }
        AccessRight::SendOnBehalf => {
            let _ = writeln!(
                o,
                "if (-not (Test-CutoverNames ({get} -Identity {id}).GrantSendOnBehalfTo {u})) {{\n    {set} -Identity {id} -GrantSendOnBehalfTo @{{add = {u}}}\n}}"
            );
        }
        r => {
            let (rights, flags) = match r {
                AccessRight::CalendarOwner => ("Owner", ""),
                AccessRight::CalendarAuthor => ("Author", ""),
                AccessRight::CalendarReviewer => ("Reviewer", ""),
                AccessRight::CalendarDelegate => ("Editor", " -SharingPermissionFlags Delegate"),
                _ => ("Editor", ""),
            };
            let _ = writeln!(
                o,
                "$cal = Get-CutoverCalendar {id}\n$p = Get-MailboxFolderPermission -Identity $cal -User {u} -ErrorAction SilentlyContinue\nif (-not $p) {{\n    Add-MailboxFolderPermission -Identity $cal -User {u} -AccessRights {rights}{flags} | Out-Null\n}} elseif (\"$($p.AccessRights)\" -ne '{rights}') {{\n    Set-MailboxFolderPermission -Identity $cal -User {u} -AccessRights {rights}{flags} | Out-Null\n}}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled_typographic_ones_too() {
        assert_eq!(powershell_quote("O'Brien"), "'O''Brien'");
        assert_eq!(
            powershell_quote("Kundenservice ‘VIP’"),
            "'Kundenservice ‘‘VIP’’'"
        );
        assert_eq!(powershell_quote("$(rm -r /) `n"), "'$(rm -r /) `n'");
    }

    #[test]
    fn owners_and_a_users_mailbox_rights_without_creating_it() {
        let r = |kind, address: &str, owners: Vec<String>, access| Recipient {
            kind,
            address: address.into(),
            display_name: "X".into(),
            members: Vec::new(),
            aliases: Vec::new(),
            access,
            owners,
            line: 0,
        };
        let s = script(
            "p",
            "graph",
            &[
                r(
                    RecipientKind::M365Group,
                    "team@x.test",
                    vec!["o'k@x.test".into()],
                    Vec::new(),
                ),
                r(
                    RecipientKind::Distribution,
                    "list@x.test",
                    vec!["ann@x.test".into()],
                    Vec::new(),
                ),
                r(
                    RecipientKind::User,
                    "ann@x.test",
                    Vec::new(),
                    vec![crate::config::Grant {
                        user: "bo@x.test".into(),
                        right: AccessRight::SendAs,
                    }],
                ),
            ],
        );
        assert!(s.contains(
            "if (-not (Test-CutoverNames @(Get-UnifiedGroupLinks -Identity 'team@x.test' -LinkType Owners -ResultSize Unlimited | ForEach-Object { $_.PrimarySmtpAddress }) 'o''k@x.test')) {\n    Add-UnifiedGroupLinks -Identity 'team@x.test' -LinkType Owners -Links 'o''k@x.test'\n}"
        ), "{s}");
        assert!(s.contains(
            "if (-not (Test-CutoverNames (Get-DistributionGroup -Identity 'list@x.test').ManagedBy 'ann@x.test')) {\n    Set-DistributionGroup -Identity 'list@x.test' -ManagedBy @{add = 'ann@x.test'}\n}"
        ), "{s}");
        assert!(s.contains("Add-RecipientPermission -Identity 'ann@x.test' -Trustee 'bo@x.test'"));
        assert!(!s.contains("create user mailbox"), "{s}");
        assert!(s.contains("# 5 step(s)."), "{s}");
    }
}
