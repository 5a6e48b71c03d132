//! The five fuzz targets. Each takes arbitrary bytes, panics on a finding (a broken invariant,
//! or no answer within [`HANG`]) and returns normally otherwise.

mod api;
mod h1;
mod log_lines;
mod manifest;
mod proxy;

use std::time::Duration;

pub use api::api;
pub use h1::h1;
pub use log_lines::log_lines;
pub use manifest::manifest;
pub use proxy::proxy;

/// How long an in-process server may take to answer one input before it counts as a hang.
pub const HANG: Duration = Duration::from_secs(10);

/// A target: its name, entry point, seed folders (relative to the repository) and dictionary.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The name `make fuzz` and the random harness know it by.
    pub name: &'static str,
    /// Runs one input.
    pub run: fn(&[u8]),
    /// Folders of seed inputs, relative to the repository root.
    pub seeds: &'static [&'static str],
    /// Tokens the mutators insert (AFL++ gets them as a `-x` dictionary).
    pub dict: &'static [&'static str],
}

/// Every target, in the order `make fuzz` runs them.
pub const ALL: [Target; 5] = [
    Target {
        name: "manifest",
        run: manifest,
        seeds: &["manifests", "manifests/reference", "tests/bad_manifests"],
        dict: manifest::DICT,
    },
    Target {
        name: "api",
        run: api,
        seeds: &["fuzz/seeds/api"],
        dict: api::DICT,
    },
    Target {
        name: "proxy",
        run: proxy,
        seeds: &["fuzz/seeds/proxy"],
        dict: proxy::DICT,
    },
    Target {
        name: "h1",
        run: h1,
        seeds: &["fuzz/seeds/h1"],
        dict: h1::DICT,
    },
    Target {
        name: "log_lines",
        run: log_lines,
        seeds: &["fuzz/seeds/log_lines"],
        dict: log_lines::DICT,
    },
];

/// The target called `name`.
pub fn find(name: &str) -> Option<Target> {
    ALL.into_iter().find(|t| t.name == name)
}
