//! Local hygiene: who may read what cutover leaves on disk and who may reach its control
//! socket.
//!
//! Everything cutover creates (the journal and its `-wal`/`-shm`, logs, reports, CSVs, the
//! lock, the control socket, the token file) is private to the user running it: mode 0600
//! (0700 for directories), or 0660/0770 with the group set to `[project] operators_group`
//! when the project names one, so that a second operator with their own login can follow
//! (`cutover watch`) and stop (`cutover stop`) the run. [`init`] sets the process umask to
//! 0077 before anything is written; the journal, lock and socket are also set explicitly
//! (they may predate this version, or be created by SQLite with the mode of the database).

use std::fs::File;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A local group (`[project] operators_group`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
}

impl Group {
    /// The group of that name in the system's group database, if there is one.
    pub fn by_name(name: &str) -> io::Result<Option<Group>> {
        Ok(group_entry(name)?.map(|(gid, _)| Group {
            name: name.to_string(),
            gid,
        }))
    }

    /// Whether the user `uid` (whose process runs with primary group `gid`) belongs to this
    /// group: as the process's group, as the user's primary group, or as a listed member.
    pub fn admits(&self, uid: u32, gid: u32) -> bool {
        if gid == self.gid {
            return true;
        }
        let Ok(Some((user, primary))) = user_entry(uid) else {
            return false;
        };
        primary == self.gid
            || group_entry(&self.name)
                .ok()
                .flatten()
                .is_some_and(|(g, members)| g == self.gid && members.contains(&user))
    }
}

/// Whether this process's user belongs to `g` (root counts: it can give any group a file).
pub fn in_group(g: &Group) -> bool {
    let egid = nix::unistd::getegid().as_raw();
    let supplementary: Vec<u32> = nix::unistd::getgroups()
        .unwrap_or_default()
        .into_iter()
        .map(|g| g.as_raw())
        .collect();
    euid() == 0 || supplementary.contains(&g.gid) || g.admits(euid(), egid)
}

static GROUP: OnceLock<Option<Group>> = OnceLock::new();

/// Make everything this process creates private (umask 0077) and remember the operators
/// group the project names. Call once, before any file is written and before threads start.
pub fn init(group: Option<&Group>) {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let _ = GROUP.set(group.cloned());
}

/// The operators group of this process's project (see [`init`]).
pub fn group() -> Option<&'static Group> {
    GROUP.get().and_then(Option::as_ref)
}

/// The mode of a private file: 0600, or 0660 when there is an operators group.
pub fn file_mode() -> u32 {
    if group().is_some() { 0o660 } else { 0o600 }
}

/// The mode of a private directory: 0700, or 0770 when there is an operators group.
pub fn dir_mode() -> u32 {
    if group().is_some() { 0o770 } else { 0o700 }
}

/// The effective user id of this process.
pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Set `path` (a file or directory this user owns) to the private mode and the operators
/// group. A symbolic link, a device, a missing path or a file owned by someone else is left
/// alone.
pub fn make_private(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    // Files and directories are changed through a descriptor opened without following a
    // link, so that nothing swapped in after the checks below is changed instead. (A socket
    // cannot be opened: it is changed by path, in a directory only its owner can write.)
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => Some(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) => None,
    };
    let md = match &file {
        Some(f) => f.metadata()?,
        None => match std::fs::symlink_metadata(path) {
            Ok(md) => md,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        },
    };
    let ft = md.file_type();
    // Only what cutover itself writes: never a link, a device (`--out /dev/stdout`) or
    // someone else's file.
    let openable = ft.is_file() || ft.is_dir();
    if !(openable && file.is_some() || ft.is_socket()) || md.uid() != euid() {
        return Ok(());
    }
    let (private, shared) = if md.is_dir() {
        (0o700, dir_mode())
    } else {
        (0o600, file_mode())
    };
    let set = |mode: u32| match &file {
        Some(f) => f.set_permissions(std::fs::Permissions::from_mode(mode)),
        None => std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)),
    };
    match group() {
        Some(g) if md.gid() != g.gid => {
            // Owner-only first: if the group cannot be given, nobody else reads it.
            set(private)?;
            match &file {
                Some(f) => std::os::unix::fs::fchown(f, None, Some(g.gid))?,
                None => std::os::unix::fs::lchown(path, None, Some(g.gid))?,
            }
            set(shared)?;
        }
        _ if md.mode() & 0o7777 != shared => set(shared)?,
        _ => {}
    }
    Ok(())
}

/// Give `path` (a regular file this user owns) the operators group, if the project names
/// one, by path and without following a link: no descriptor of it is opened, so a file that
/// SQLite holds open (and locked) keeps its locks. The mode is left as it is.
pub fn give_to_group(path: &Path) -> io::Result<()> {
    let Some(g) = group() else {
        return Ok(());
    };
    let md = match std::fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if md.file_type().is_file() && md.uid() == euid() && md.gid() != g.gid {
        std::os::unix::fs::lchown(path, None, Some(g.gid))?;
    }
    Ok(())
}

/// `create_dir_all`, the directories it creates private (see [`make_private`]).
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    let missing: Vec<PathBuf> = path
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && std::fs::symlink_metadata(a).is_err())
        .map(Path::to_path_buf)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(dir_mode())
        .create(path)?;
    for d in missing.iter().rev() {
        make_private(d)?;
    }
    Ok(())
}

/// Make cutover's log files in `dir` (`cutover.<date>.log`) private, old ones included.
pub fn make_logs_private(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("cutover.") && name.ends_with(".log") {
            let _ = make_private(&e.path());
        }
    }
}

/// Open (creating it, private) a file for writing without following a symbolic link at its
/// last component: a link planted there is an error (ELOOP), never a file created elsewhere.
pub fn open_private_nofollow(path: &Path) -> io::Result<File> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(file_mode())
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    make_private(path)?;
    Ok(f)
}

/// Whether a peer of the control socket may talk to this process: its owner, root, or a
/// member of the operators group. The refusal says why, for the log and the peer.
pub fn admit(uid: u32, gid: u32) -> Result<(), String> {
    let me = euid();
    if uid == me || uid == 0 || group().is_some_and(|g| g.admits(uid, gid)) {
        return Ok(());
    }
    Err(match group() {
        Some(g) => format!(
            "uid {uid} is not the owner (uid {me}), root or a member of operators_group {}",
            g.name
        ),
        None => format!(
            "uid {uid} is not the owner (uid {me}) or root (set [project] operators_group to admit other operators)"
        ),
    })
}

/// A directory cutover keeps per-user runtime files in (the control socket of a project
/// whose journal path is too long for a socket address): `$XDG_RUNTIME_DIR` when it is
/// the user's own private directory and there is no operators group, otherwise
/// `<tmp>/cutover-<uid>`, created 0700 (0770 with the operators group). A path there that
/// is not a directory, is a symbolic link or belongs to someone else is refused: another
/// local user cannot make cutover create its socket or lock where they choose.
pub fn runtime_dir() -> io::Result<PathBuf> {
    let uid = euid();
    if group().is_none()
        && let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)
        && x.is_absolute()
        && checked_dir(&x, uid, 0o077).is_ok()
    {
        return Ok(x);
    }
    let dir = tmp_runtime_dir(uid);
    match std::fs::DirBuilder::new().mode(dir_mode()).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    checked_dir(&dir, uid, 0)?;
    make_private(&dir)?;
    Ok(dir)
}

/// Where [`runtime_dir`] may have put the runtime files of the user `owner` (the user who
/// owns the journal) or of this user, most likely first; only directories that pass the
/// same checks (owner, not a link, not writable by others).
pub fn runtime_dir_candidates(owner: u32) -> Vec<PathBuf> {
    let me = euid();
    let mut out = Vec::new();
    let mut push = |p: PathBuf, uid: u32| {
        if !out.contains(&p) && checked_dir(&p, uid, 0o002).is_ok() {
            out.push(p);
        }
    };
    for uid in [owner, me] {
        if uid == me
            && let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)
            && x.is_absolute()
        {
            push(x, uid);
        }
        push(PathBuf::from(format!("/run/user/{uid}")), uid);
        push(tmp_runtime_dir(uid), uid);
    }
    out
}

fn tmp_runtime_dir(uid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("cutover-{uid}"))
}

/// `dir` is a real directory (not a link) owned by `uid`, with none of the `forbidden` mode
/// bits.
fn checked_dir(dir: &Path, uid: u32, forbidden: u32) -> io::Result<()> {
    let md = std::fs::symlink_metadata(dir)?;
    let refuse = |why: String| {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{}: {why}; refusing to use it", dir.display()),
        ))
    };
    if md.file_type().is_symlink() {
        return refuse("is a symbolic link".into());
    }
    if !md.is_dir() {
        return refuse("is not a directory".into());
    }
    if md.uid() != uid {
        return refuse(format!("belongs to uid {}, not {uid}", md.uid()));
    }
    if md.mode() & forbidden != 0 {
        return refuse(format!("has mode {:o}", md.mode() & 0o7777));
    }
    Ok(())
}

/// (gid, member names) of a group, from the group database.
fn group_entry(name: &str) -> io::Result<Option<(u32, Vec<String>)>> {
    if name.contains('\0') {
        return Ok(None);
    }
    let g = nix::unistd::Group::from_name(name).map_err(io::Error::from)?;
    Ok(g.map(|g| (g.gid.as_raw(), g.mem)))
}

/// (user name, primary gid) of a uid, from the user database.
fn user_entry(uid: u32) -> io::Result<Option<(String, u32)>> {
    let u =
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).map_err(io::Error::from)?;
    Ok(u.map(|u| (u.name, u.gid.as_raw())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_users_resolve() {
        let root = Group::by_name("root").unwrap().expect("a root group");
        assert_eq!(root.gid, 0);
        assert!(Group::by_name("no-such-group-cutover").unwrap().is_none());
        // The root user's primary group is root's.
        assert!(root.admits(0, 12345));
        // Any process running with the group as its own is a member.
        assert!(root.admits(4242, 0));
        assert!(!root.admits(4242, 4242));
    }

    #[test]
    fn runtime_directories_are_checked() {
        let d = tempfile::tempdir().unwrap();
        let me = euid();
        checked_dir(d.path(), me, 0o022).unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(d.path(), &link).unwrap();
        let e = checked_dir(&link, me, 0).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        let file = d.path().join("file");
        std::fs::write(&file, "").unwrap();
        let e = checked_dir(&file, me, 0).unwrap_err().to_string();
        assert!(e.contains("not a directory"), "{e}");
        let e = checked_dir(d.path(), me + 1, 0).unwrap_err().to_string();
        assert!(e.contains("belongs to uid"), "{e}");
    }

    #[test]
    fn lock_files_never_follow_links() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("elsewhere");
        let link = d.path().join("x.lock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = open_private_nofollow(&link).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
        assert!(!target.exists());
        let f = d.path().join("y.lock");
        open_private_nofollow(&f).unwrap();
        let mode = std::fs::metadata(&f).unwrap().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}
