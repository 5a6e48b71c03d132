//! What this host says about an app's `user` and `group` before anything runs: refusals (the
//! user or group does not exist here; a controller that is not root cannot switch to it) for
//! `validate`, `apply` and the controller's load, and warnings for paths the user cannot reach.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid};

use super::access::{self, Who};
use super::identity::{self, IdentityError};
use crate::manifest::locate::Seg;
use crate::manifest::{locate_in_file, App, Located, ManifestError};

/// The uid and gid of the controller that will run the apps: the owner of the control socket
/// at `socket` when there is one (a controller runs, or ran, there), else this process's.
pub fn controller_ids(socket: &Path) -> (Uid, Gid) {
    match std::fs::metadata(socket) {
        Ok(meta) => (Uid::from_raw(meta.uid()), Gid::from_raw(meta.gid())),
        Err(_) => (Uid::effective(), Gid::effective()),
    }
}

/// The first app of `apps` (all read from the text `text` gives) whose `user` or `group`
/// cannot be had on this host under a controller running as `controller`, as an error at
/// the field.
pub fn refuse(
    apps: &[Located],
    controller: (Uid, Gid),
    text: impl FnOnce() -> Option<String>,
) -> Result<(), ManifestError> {
    let mut text = Some(text);
    for located in apps {
        let spec = &located.app.spec;
        if spec.user.is_none() && spec.group.is_none() {
            continue;
        }
        if let Err(e) = check(&located.app, controller) {
            let field = match &e {
                IdentityError::NoGroup(_) => "group",
                IdentityError::NotRoot { field, .. } | IdentityError::Lookup { field, .. } => {
                    field.trim_start_matches("spec.")
                }
                IdentityError::NoUser(_) => "user",
            };
            let path = [Seg::Key("spec"), Seg::Key(field)];
            let (line, column) = text
                .take()
                .and_then(|text| text())
                .and_then(|text| locate_in_file(&text, located.doc_index, &path))
                .unwrap_or((located.line, 1));
            return Err(ManifestError {
                file: located.file.clone(),
                line,
                column,
                message: e.to_string(),
            });
        }
    }
    Ok(())
}

/// Whether `app`'s user and group exist here and a controller running as `controller` may
/// switch to them.
pub fn check(app: &App, controller: (Uid, Gid)) -> Result<(), IdentityError> {
    let spec = &app.spec;
    let Some(id) = identity::resolve(spec.user.as_ref(), spec.group.as_ref())? else {
        return Ok(());
    };
    identity::own_only_as(&id, spec.user.is_some(), controller)
}

/// A path of an app that its user cannot reach: where in the manifest, and what to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    /// The manifest field naming the path.
    pub field: Vec<Seg<'static>>,
    /// The warning, naming the path and the folder that blocks it.
    pub message: String,
}

/// The `cwd`, `envFiles` and `watch` paths of `located` that its `user` could not read (or
/// enter), for `corral validate`; nothing when the app names no user or it cannot be had.
pub fn unreachable(located: &Located) -> Vec<Unreachable> {
    let spec = &located.app.spec;
    if spec.user.is_none() && spec.group.is_none() {
        return Vec::new();
    }
    let Ok(Some(id)) = identity::resolve(spec.user.as_ref(), spec.group.as_ref()) else {
        return Vec::new();
    };
    let who = Who {
        uid: id.uid,
        gid: id.gid,
        groups: &id.groups,
    };
    let label = id.label();
    let base = located.file.parent().unwrap_or(Path::new("."));
    let cwd = spec
        .cwd
        .as_ref()
        .map_or(base.to_path_buf(), |c| base.join(c));
    let mut found = Vec::new();
    let mut look = |field: Vec<Seg<'static>>, path: PathBuf, what: &str, note: &str| {
        let want = if path.is_dir() {
            access::READ | access::EXEC
        } else {
            access::READ
        };
        if let Some(at) = access::blocked(&path, who, want) {
            found.push(Unreachable {
                field,
                message: format!(
                    "user {label} cannot read {what} {} ({} is closed to it){note}; give it \
                     access (e.g. chmod o+rx on the folders, o+r on the files) or change spec.user",
                    path.display(),
                    at.display()
                ),
            });
        }
    };
    let cwd_field = vec![Seg::Key("spec"), Seg::Key("cwd")];
    let cwd_field = if spec.cwd.is_some() {
        cwd_field
    } else {
        vec![Seg::Key("spec"), Seg::Key("command")]
    };
    look(
        cwd_field,
        cwd.clone(),
        "the cwd",
        "; the app would not start",
    );
    for (i, file) in spec.env_files.iter().enumerate() {
        let field = vec![Seg::Key("spec"), Seg::Key("envFiles"), Seg::Index(i)];
        let note = "; the controller reads it for the app, so this matters if the app reads it too";
        look(field, base.join(file), "the env file", note);
    }
    if let Some(w) = &spec.watch {
        for (i, path) in w.paths.iter().enumerate() {
            let field = vec![
                Seg::Key("spec"),
                Seg::Key("watch"),
                Seg::Key("paths"),
                Seg::Index(i),
            ];
            let note =
                "; the controller watches it, but the app reloaded on its changes cannot read them";
            look(field, cwd.join(path), "the watched path", note);
        }
    }
    found
}
