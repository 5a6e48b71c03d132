//! Who may tell corral what to run: paths that others than the controller's user could write are refused.
//!
//! Like sshd's `StrictModes`: a manifest, the manifests directory, a `cwd` or an `envFiles` entry
//! that is writable by group or others, or owned by a uid other than the controller's or root's,
//! lets someone else decide what runs as the controller's user. So do the directories above
//! them (whoever can write a parent can swap the child), except root-owned sticky ones (`/tmp`).

mod walk;

pub use walk::{check, check_manifest};

use std::fmt;
use std::path::PathBuf;

/// Whether paths are checked (`--allow-shared-manifests` turns the check off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trust {
    /// Refuse paths that others could write (the default).
    #[default]
    Strict,
    /// Accept any path (`--allow-shared-manifests`).
    Shared,
}

/// The flag that turns the check off, named in every refusal.
pub const OPT_OUT_FLAG: &str = "--allow-shared-manifests";

/// What a path is to corral, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The manifests directory.
    ManifestsDir,
    /// A manifest file.
    Manifest,
    /// An app's working directory.
    Cwd,
    /// An app's dotenv file.
    EnvFile,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::ManifestsDir => "the manifests directory",
            Role::Manifest => "the manifest",
            Role::Cwd => "the cwd",
            Role::EnvFile => "the env file",
        })
    }
}

/// The facts about one path the rule looks at (from `std::fs::Metadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// Owner uid.
    pub uid: u32,
    /// Permission bits, with the sticky bit (`st_mode & 0o7777`).
    pub mode: u32,
}

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Group- or other-writable (`who` is `g`, `o` or `go`).
    Writable {
        /// chmod letters of who may write.
        who: &'static str,
        /// The permission bits.
        mode: u32,
    },
    /// Owned by `owner`, neither the controller's `uid` nor root.
    Owner {
        /// The path's owner.
        owner: u32,
        /// The controller's uid.
        uid: u32,
    },
    /// The path cannot be examined.
    Unreadable(String),
}

/// A path refused by the trust rule: which, why, and the command that fixes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TrustError {
    /// The path at fault (the target itself or a directory above it).
    pub path: PathBuf,
    /// What corral uses the path for.
    pub role: Role,
    /// The target when `path` is a directory above it.
    pub above: Option<PathBuf>,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.above {
            Some(target) => write!(
                f,
                "{path}, a directory above {} {},",
                self.role,
                target.display()
            )?,
            None => write!(f, "{} {path}", self.role)?,
        }
        match &self.problem {
            Problem::Writable { who, mode } => {
                let whom = match *who {
                    "g" => "its group",
                    "o" => "others",
                    _ => "its group and others",
                };
                write!(
                    f,
                    " is writable by {whom} (mode {mode:04o}), so another user could change what corral runs; \
                     fix it with `chmod {who}-w {path}`"
                )?;
            }
            Problem::Owner { owner, uid } => write!(
                f,
                " is owned by uid {owner}, neither the controller's user (uid {uid}) nor root, so that user \
                 could change what corral runs; fix it with `chown {uid} {path}`"
            )?,
            Problem::Unreadable(e) => return write!(f, " cannot be checked: {e}"),
        }
        write!(f, ", or start the controller with {OPT_OUT_FLAG}")
    }
}

/// Whether `facts` pass for the target itself (`parent == false`) or for a directory above it.
///
/// Pure: the controller's `uid` is passed in, so every bit can be tested without root.
pub fn judge(facts: Facts, uid: u32, parent: bool) -> Result<(), Problem> {
    if facts.uid != uid && facts.uid != 0 {
        return Err(Problem::Owner {
            owner: facts.uid,
            uid,
        });
    }
    const STICKY: u32 = 0o1000;
    if parent && facts.uid == 0 && facts.mode & STICKY != 0 {
        return Ok(()); // /tmp: others may write, but not replace what they do not own
    }
    let who = match (facts.mode & 0o020 != 0, facts.mode & 0o002 != 0) {
        (false, false) => return Ok(()),
        (true, false) => "g",
        (false, true) => "o",
        (true, true) => "go",
    };
    Err(Problem::Writable {
        who,
        mode: facts.mode & 0o7777,
    })
}

#[cfg(test)]
mod tests;
