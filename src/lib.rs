//! corral: keeps long-running programs alive, reconciled from a directory of YAML manifests.

pub mod api;
pub mod cgroup;
pub mod children;
pub mod cli;
pub mod confine;
pub mod console;
pub mod controller;
pub mod export;
#[doc(hidden)]
pub mod fuzzing;
pub mod gitops;
pub mod heap;
pub mod histogram;
pub mod home;
pub mod import;
pub mod jobs;
pub mod launch;
pub mod lifecycle;
pub mod logs;
pub mod manifest;
pub mod metrics;
pub mod net;
pub mod probe;
pub mod reconcile;
pub mod schedule;
pub mod startup;
pub mod store;
pub mod supervisor;
pub mod threads;
pub mod trust;
pub mod watch;
