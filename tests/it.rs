//! Every integration test in one binary (`cargo test --test it [FILTER]`): one link instead of
//! seventy, and one pool of test threads for the whole suite. Each `tests/NAME.rs` is the module
//! `NAME` (run one with `cargo test --test it NAME::`); the shared fixtures are the `*common`
//! modules. `tests/vm_cgroup.rs` stays its own binary (`make test-vm`). A new test file must be
//! declared here: `every_test_file_is_declared` below fails otherwise.

mod api_common;
mod common;
mod net_common;
mod probe_common;

mod api_server;
mod balance_bind_error;
mod balance_inherit;
mod balance_readiness;
mod balance_slow_start;
mod blue_green;
mod canary;
mod cgroup_limits;
mod cli_apply;
mod cli_get;
mod command_string;
mod completion;
mod confine_identity;
mod console_browser;
mod console_http;
mod controller_crash;
mod controller_env_logs;
mod controller_fdstore;
mod controller_lifecycle;
mod controller_manifests;
mod controller_restarts;
mod controller_socket;
mod controller_upgrade;
mod crash_random;
mod cronjob;
mod cronjob_export;
mod deb;
mod depends;
mod depends_export;
mod docs_honest;
mod events;
mod events_api;
mod export_kubernetes;
mod export_rollouts;
mod gitops;
mod home_formats;
mod import_pm2;
mod input_limits;
mod jobs;
mod jobs_apply;
mod jobs_depends;
mod logs_capture;
mod logs_cli;
mod logs_dir;
mod logs_disk;
mod logs_rotation;
mod logs_spam;
mod manifest_bad;
mod manifest_cli;
mod manifest_schema;
mod manifest_strategy;
mod memory_ceiling;
mod memory_limit;
mod metrics;
mod net_bind;
mod net_canary;
mod net_http;
mod net_inherit;
mod net_tcp;
mod net_upgrade;
mod net_workers;
mod probe_config;
mod probe_exec;
mod probe_http;
mod probe_notify;
mod probe_tcp;
mod reaper;
mod record_recovery;
mod rollout_history;
mod rollout_hooks;
mod rollout_in_flight;
mod rollout_keep_alive;
mod rollout_new_connections;
mod rollout_shape;
mod rollout_stalled;
mod soak;
mod socket_group;
mod spawner;
mod start_failures;
mod startup_notify;
mod startup_unit;
mod stop_tree;
mod top;
mod trust_paths;
mod trust_secrets;
mod version;
mod watch_reload;

/// Cargo builds only what `Cargo.toml` and this file name (`autotests = false`): a test file
/// nobody declared would never run.
#[test]
fn every_test_file_is_declared() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let here = std::fs::read_to_string(dir.join("it.rs")).expect("tests/it.rs");
    let cargo = std::fs::read_to_string(dir.join("../Cargo.toml")).expect("Cargo.toml");
    for entry in std::fs::read_dir(&dir).expect("tests/") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let Some(stem) = name.strip_suffix(".rs") else {
            continue;
        };
        let declared = stem == "it"
            || here.lines().any(|l| l == format!("mod {stem};"))
            || cargo.contains(&format!("path = \"tests/{name}\""));
        assert!(
            declared,
            "tests/{name} is in no test binary: add `mod {stem};` to tests/it.rs"
        );
    }
}
