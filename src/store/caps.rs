//! Caps on instances, per app and in total: `instances: 100000000` is a valid number, but
//! starting it would fork-bomb the host, so an app over a cap is refused like an invalid manifest.

use super::Store;
use crate::api::ManifestProblem;
use crate::manifest::locate::Seg;
use crate::manifest::{locate_in_file, App, Instances, Located, ManifestError};

/// Default `--max-instances-per-app`: room for a 1 000-instance app, far from a fork bomb.
pub const DEFAULT_PER_APP: u32 = 1024;
/// Default `--max-instances`: two such apps.
pub const DEFAULT_TOTAL: u32 = 2048;

/// The caps, as flags of `corral controller`, `validate` and `apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct Caps {
    /// Most instances one app may ask for (`spec.instances`); an app asking more is refused.
    #[arg(long = "max-instances-per-app", value_name = "N", default_value_t = DEFAULT_PER_APP)]
    pub per_app: u32,
    /// Most instances all apps together may ask for; apps that would pass it are refused.
    #[arg(long = "max-instances", value_name = "N", default_value_t = DEFAULT_TOTAL)]
    pub total: u32,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            per_app: DEFAULT_PER_APP,
            total: DEFAULT_TOTAL,
        }
    }
}

/// The instances `app` asks for (`"max"` is `cpus`), suspended or not.
pub fn wanted(app: &App, cpus: u32) -> u32 {
    match app.spec.instances {
        Instances::Count(n) => n,
        Instances::Max => cpus,
    }
}

/// Online CPUs, what `instances: max` means.
pub fn online_cpus() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// What is wrong with `app` over the per-app cap, and the flag that raises it.
pub fn per_app_message(app: &App, caps: Caps, cpus: u32) -> Option<String> {
    let n = wanted(app, cpus);
    (n > caps.per_app).then(|| {
        format!(
            "spec.instances: {n} is over the cap of {} instances per app; lower it, or raise the \
             cap with --max-instances-per-app {n} (a flag of `corral controller`, `validate` and \
             `apply`)",
            caps.per_app
        )
    })
}

/// What is wrong when the apps ask for `sum` instances in all, and the flag that raises it.
pub fn total_message(sum: u64, caps: Caps) -> String {
    format!(
        "spec.instances: this app brings the instances of all apps to {sum}, over the cap of {}; \
         lower some apps' instances, or raise the cap with --max-instances {sum} (a flag of \
         `corral controller`, `validate` and `apply`)",
        caps.total
    )
}

/// The instances the running (not suspended) apps ask for in all.
pub fn running_total<'a>(apps: impl IntoIterator<Item = &'a App>, cpus: u32) -> u64 {
    apps.into_iter()
        .filter(|a| !a.spec.suspend)
        .map(|a| u64::from(wanted(a, cpus)))
        .sum()
}

/// The per-app cap error of `located`, at its `spec.instances`. Reads the file.
pub fn over_per_app(located: &Located, caps: Caps, cpus: u32) -> Option<ManifestError> {
    per_app_message(&located.app, caps, cpus).map(|m| at_instances(located, m))
}

/// An error located at `spec.instances` of `located` (or its document).
pub fn at_instances(located: &Located, message: String) -> ManifestError {
    let (line, column) = std::fs::read_to_string(&located.file)
        .ok()
        .and_then(|text| {
            let path = [Seg::Key("spec"), Seg::Key("instances")];
            locate_in_file(&text, located.doc_index, &path)
        })
        .unwrap_or((located.line, 1));
    ManifestError {
        file: located.file.clone(),
        line,
        column,
        message,
    }
}

impl Store {
    /// Refuses the apps over a cap: each keeps the last good version in `prev` if that one
    /// fits, else it is not run. For the total, apps new or changed since `prev` are refused
    /// last name first until the rest fits. Reads manifest files (to place errors).
    pub fn enforce_caps(&mut self, prev: &Store, caps: Caps, cpus: u32) {
        let over: Vec<String> = self
            .apps
            .iter()
            .filter_map(|(name, l)| {
                let e = over_per_app(l, caps, cpus)?;
                self.problems.push(problem(&e, name));
                Some(name.clone())
            })
            .collect();
        for name in over {
            self.revert(prev, &name, |l| over_per_app(l, caps, cpus).is_none());
        }
        let count = |s: &Store| running_total(s.apps.values().map(|l| &l.app), cpus);
        let changed: Vec<String> = self
            .apps
            .iter()
            .filter(|(name, l)| prev.apps.get(*name) != Some(l))
            .map(|(name, _)| name.clone())
            .collect();
        for name in changed.into_iter().rev() {
            let sum = count(self);
            if sum <= u64::from(caps.total) {
                break;
            }
            let e = at_instances(&self.apps[&name], total_message(sum, caps));
            self.problems.push(problem(&e, &name));
            self.revert(prev, &name, |_| true);
        }
    }

    /// Puts `name` back to its version in `prev` when `fits` it, else drops it.
    fn revert(&mut self, prev: &Store, name: &str, fits: impl Fn(&Located) -> bool) {
        match prev.apps.get(name).filter(|l| fits(l)) {
            Some(last) => self.apps.insert(name.to_owned(), last.clone()),
            None => self.apps.remove(name),
        };
    }
}

fn problem(e: &ManifestError, app: &str) -> ManifestProblem {
    ManifestProblem {
        file: e.file.display().to_string(),
        line: e.line,
        column: e.column,
        message: e.message.clone(),
        apps: vec![app.to_owned()],
    }
}

#[cfg(test)]
mod tests;
