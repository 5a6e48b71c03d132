//! Who an instance runs as: `spec.user` and `spec.group` looked up in passwd and group (NSS),
//! with the supplementary groups `initgroups` would give. Blocking: NSS may read files.

use std::ffi::CString;
use std::path::PathBuf;

use nix::unistd::{Gid, Group, Uid, User};

use crate::manifest::IdRef;

/// The user and groups an instance runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The uid to switch to.
    pub uid: u32,
    /// The primary gid to switch to.
    pub gid: u32,
    /// The supplementary groups (the primary one included), as `initgroups` sets them.
    pub groups: Vec<u32>,
    /// The passwd entry of `spec.user`, when it is set.
    pub account: Option<Account>,
}

/// What the passwd entry of `spec.user` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user's name (`USER`, `LOGNAME`).
    pub name: String,
    /// The home directory (`HOME`).
    pub home: PathBuf,
    /// The login shell (`SHELL`).
    pub shell: PathBuf,
}

/// `spec.user` or `spec.group` cannot be used on this host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// No passwd entry.
    #[error(
        "spec.user: user {0} does not exist on this host (no passwd entry); create it (e.g. \
         `useradd --system --no-create-home {0}`) or name an existing user"
    )]
    NoUser(IdRef),
    /// No group entry.
    #[error(
        "spec.group: group {0} does not exist on this host (no group entry); create it (e.g. \
         `groupadd --system {0}`) or name an existing group"
    )]
    NoGroup(IdRef),
    /// NSS failed.
    #[error("{field}: cannot look up {what}: {source}; check /etc/nsswitch.conf and its services")]
    Lookup {
        /// `spec.user` or `spec.group`.
        field: &'static str,
        /// What was looked up.
        what: IdRef,
        /// The error.
        source: nix::Error,
    },
    /// The controller is not root and the app names another user or group.
    #[error(
        "{field}: the controller runs as {own}, not root, so it can only run apps as itself; \
         remove {field} or set it to {own_name}, or run the controller as root (e.g. \
         `sudo corral startup --install`)"
    )]
    NotRoot {
        /// `spec.user` or `spec.group`.
        field: &'static str,
        /// The controller's own user or group, with its id.
        own: String,
        /// The same, as a value to write.
        own_name: String,
    },
}

/// Looks up `user` and `group` (blocking); `None` when neither is set.
pub fn resolve(
    user: Option<&IdRef>,
    group: Option<&IdRef>,
) -> Result<Option<Identity>, IdentityError> {
    let group = group.map(lookup_group).transpose()?;
    let Some(user) = user else {
        return Ok(group.map(|g| Identity {
            uid: Uid::effective().as_raw(),
            gid: g.gid.as_raw(),
            groups: vec![g.gid.as_raw()],
            account: None,
        }));
    };
    let entry = lookup_user(user)?;
    let gid = group.map_or(entry.gid, |g| g.gid);
    // As initgroups(name, gid) sets them: the user's groups in /etc/group, plus `gid`.
    let groups = match CString::new(entry.name.as_str()) {
        Ok(name) => {
            nix::unistd::getgrouplist(&name, gid).map_err(|source| IdentityError::Lookup {
                field: "spec.user",
                what: user.clone(),
                source,
            })?
        }
        Err(_) => vec![gid],
    };
    Ok(Some(Identity {
        uid: entry.uid.as_raw(),
        gid: gid.as_raw(),
        groups: groups.into_iter().map(Gid::as_raw).collect(),
        account: Some(Account {
            name: entry.name,
            home: entry.dir,
            shell: entry.shell,
        }),
    }))
}

/// The passwd entry of `user`.
fn lookup_user(user: &IdRef) -> Result<User, IdentityError> {
    let found = match user {
        IdRef::Id(n) => User::from_uid(Uid::from_raw(*n)),
        IdRef::Name(name) => User::from_name(name),
    };
    match found {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(IdentityError::NoUser(user.clone())),
        Err(source) => Err(IdentityError::Lookup {
            field: "spec.user",
            what: user.clone(),
            source,
        }),
    }
}

/// The group entry of `group`.
fn lookup_group(group: &IdRef) -> Result<Group, IdentityError> {
    let found = match group {
        IdRef::Id(n) => Group::from_gid(Gid::from_raw(*n)),
        IdRef::Name(name) => Group::from_name(name),
    };
    match found {
        Ok(Some(g)) => Ok(g),
        Ok(None) => Err(IdentityError::NoGroup(group.clone())),
        Err(source) => Err(IdentityError::Lookup {
            field: "spec.group",
            what: group.clone(),
            source,
        }),
    }
}

impl Identity {
    /// Whether the child must change user and groups: always under a root controller (the
    /// supplementary groups are the user's, not root's); never otherwise, where [`own_only`]
    /// has already refused anything but the controller's own user and group.
    pub fn needs_switch(&self) -> bool {
        Uid::effective().is_root()
    }

    /// The user as people read it: `nobody (65534:65534)`.
    pub fn label(&self) -> String {
        match &self.account {
            Some(a) => format!("{} ({}:{})", a.name, self.uid, self.gid),
            None => format!("{}:{}", self.uid, self.gid),
        }
    }
}

/// The controller's own user as [`Identity::label`] writes it: `root (0:0)`.
pub fn own_label() -> String {
    let (uid, gid) = (Uid::effective(), Gid::effective());
    match User::from_uid(uid) {
        Ok(Some(u)) => format!("{} ({uid}:{gid})", u.name),
        _ => format!("{uid}:{gid}"),
    }
}

/// Under this controller, when it is not root, refuses any user or group but its own.
pub fn own_only(identity: &Identity, user_set: bool) -> Result<(), IdentityError> {
    own_only_as(identity, user_set, (Uid::effective(), Gid::effective()))
}

/// Under a controller running as `controller`, when it is not root, refuses any user or group
/// but its own.
pub fn own_only_as(
    identity: &Identity,
    user_set: bool,
    (uid, gid): (Uid, Gid),
) -> Result<(), IdentityError> {
    if uid.is_root() {
        return Ok(());
    }
    if user_set && identity.uid != uid.as_raw() {
        let name = User::from_uid(uid).ok().flatten().map(|u| u.name);
        return Err(IdentityError::NotRoot {
            field: "spec.user",
            own: match &name {
                Some(n) => format!("user {n} (uid {uid})"),
                None => format!("uid {uid}"),
            },
            own_name: name.unwrap_or_else(|| uid.to_string()),
        });
    }
    if identity.gid != gid.as_raw() {
        let name = Group::from_gid(gid).ok().flatten().map(|g| g.name);
        return Err(IdentityError::NotRoot {
            field: "spec.group",
            own: match &name {
                Some(n) => format!("group {n} (gid {gid})"),
                None => format!("gid {gid}"),
            },
            own_name: name.unwrap_or_else(|| gid.to_string()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobody_resolves_by_name_and_id_with_its_groups() {
        let by_name = resolve(Some(&IdRef::Name("nobody".into())), None)
            .unwrap()
            .unwrap();
        let by_id = resolve(Some(&IdRef::Id(by_name.uid)), None)
            .unwrap()
            .unwrap();
        assert_eq!(by_name, by_id);
        assert!(by_name.groups.contains(&by_name.gid));
        assert_eq!(
            by_name.account.as_ref().map(|a| a.name.as_str()),
            Some("nobody")
        );
    }

    #[test]
    fn a_group_overrides_the_primary_one() {
        let root = resolve(Some(&IdRef::Id(0)), Some(&IdRef::Id(65534)))
            .unwrap()
            .unwrap();
        assert_eq!((root.uid, root.gid), (0, 65534));
        assert!(root.groups.contains(&65534));
    }

    #[test]
    fn unknown_names_say_how_to_fix_it() {
        let user = IdRef::Name("no-such-user-corral".into());
        let e = resolve(Some(&user), None).unwrap_err();
        assert!(e.to_string().contains("useradd"), "{e}");
        let group = IdRef::Id(4_000_000_000);
        let e = resolve(None, Some(&group)).unwrap_err();
        assert!(
            e.to_string().starts_with("spec.group: group 4000000000"),
            "{e}"
        );
    }
}
