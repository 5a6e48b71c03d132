//! Zero-downtime reload, rolling update and scaling in every listen mode, with clients that
//! open a new connection per request: not one request may fail.

use crate::common;

use common::rollout::{zero_downtime, Change, Clients};

#[test]
fn inherit_reload_loses_no_request() {
    zero_downtime("inherit", Change::Reload, Clients::PerRequest);
}

#[test]
fn inherit_env_change_loses_no_request() {
    zero_downtime("inherit", Change::Env, Clients::PerRequest);
}

#[test]
fn inherit_scale_up_and_down_loses_no_request() {
    zero_downtime("inherit", Change::Scale, Clients::PerRequest);
}

#[test]
fn tcp_reload_loses_no_request() {
    zero_downtime("tcp", Change::Reload, Clients::PerRequest);
}

#[test]
fn tcp_env_change_loses_no_request() {
    zero_downtime("tcp", Change::Env, Clients::PerRequest);
}

#[test]
fn tcp_scale_up_and_down_loses_no_request() {
    zero_downtime("tcp", Change::Scale, Clients::PerRequest);
}

#[test]
fn http_reload_loses_no_request() {
    zero_downtime("http", Change::Reload, Clients::PerRequest);
}

#[test]
fn http_env_change_loses_no_request() {
    zero_downtime("http", Change::Env, Clients::PerRequest);
}

#[test]
fn http_scale_up_and_down_loses_no_request() {
    zero_downtime("http", Change::Scale, Clients::PerRequest);
}

#[test]
fn http_restart_schedule_reload_loses_no_request() {
    zero_downtime("http", Change::Schedule, Clients::PerRequest);
}

#[test]
fn http_watch_reload_loses_no_request() {
    zero_downtime("http", Change::Watch, Clients::PerRequest);
}
