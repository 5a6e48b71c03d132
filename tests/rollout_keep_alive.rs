//! `mode: http` owns client keep-alive connections: clients that each reuse one
//! connection see no failure and no reconnect through a reload, a rolling update or scaling.

use crate::common;

use common::rollout::{zero_downtime, Change, Clients};

#[test]
fn keep_alive_clients_survive_a_reload() {
    zero_downtime("http", Change::Reload, Clients::KeepAlive);
}

#[test]
fn keep_alive_clients_survive_an_env_change() {
    zero_downtime("http", Change::Env, Clients::KeepAlive);
}

#[test]
fn keep_alive_clients_survive_scaling() {
    zero_downtime("http", Change::Scale, Clients::KeepAlive);
}
