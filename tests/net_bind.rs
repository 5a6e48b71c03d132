//! Binding: clear errors naming app, address and fix; rebinding the same port after a drop.

use crate::net_common;

use corral::manifest::{Listen, ListenMode};
use corral::net::{AppListeners, NetError};
use net_common::*;

fn on(host: &str, port: u16, mode: ListenMode) -> Listen {
    Listen {
        name: "http".into(),
        port,
        host: host.into(),
        mode,
    }
}

#[tokio::test]
async fn a_port_in_use_is_an_error_naming_app_address_and_fix() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let listen = [
        on("127.0.0.1", 0, ListenMode::Inherit),
        on("127.0.0.1", port, ListenMode::Tcp),
    ];
    let error = AppListeners::bind("web", &listen)
        .await
        .expect_err("port is taken");
    assert!(
        matches!(error, NetError::PortInUse { index: 1, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("app web: port {port} on 127.0.0.1 is in use (")),
        "{message}"
    );
    assert!(
        message.ends_with("stop what listens there or change spec.listen[1].port"),
        "{message}"
    );
}

#[tokio::test]
async fn a_foreign_address_is_an_error_with_a_fix() {
    let error = AppListeners::bind("web", &[on("192.0.2.1", 0, ListenMode::Http)])
        .await
        .expect_err("not our address");
    assert!(
        matches!(error, NetError::AddressNotAvailable { .. }),
        "{error:?}"
    );
    assert!(error
        .to_string()
        .contains("spec.listen[0].host must be an address of this machine"));
}

#[tokio::test]
async fn the_same_port_binds_again_right_after_a_drop_or_shutdown() {
    for mode in [ListenMode::Inherit, ListenMode::Tcp, ListenMode::Http] {
        let (first, addr) = bind_one(mode, quick()).await;
        // An accepted connection must not keep the port from being bound again.
        let _client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        drop(first);
        let listen = [on("127.0.0.1", addr.port(), mode)];
        let second = AppListeners::bind_with("web", &listen, quick())
            .await
            .expect("rebind after drop");
        second.shutdown().await;
        let third = AppListeners::bind_with("web", &listen, quick())
            .await
            .expect("rebind after shutdown");
        third.shutdown().await;
    }
}

#[tokio::test]
async fn hosts_may_be_ipv6_or_names() {
    let named = AppListeners::bind("web", &[on("localhost", 0, ListenMode::Tcp)])
        .await
        .expect("localhost");
    assert!(named.local_addrs()[0].1.ip().is_loopback());
    named.shutdown().await;
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        for host in ["::1", "[::1]"] {
            let v6 = AppListeners::bind("web", &[on(host, 0, ListenMode::Tcp)])
                .await
                .expect("ipv6");
            assert!(v6.local_addrs()[0].1.is_ipv6());
            v6.shutdown().await;
        }
    }
}

/// After a controller crash its adopted instances still hold the old inherit socket; the new
/// controller binds the same port beside it (SO_REUSEPORT), and both accept.
#[tokio::test]
async fn an_inherit_port_binds_again_while_an_adopted_instance_holds_the_old_socket() {
    let (first, addr) = bind_one(ListenMode::Inherit, quick()).await;
    let held = first.dup_inherit_fds().expect("dup").remove(0).0; // the "adopted instance"
    drop(first);
    let listen = [on("127.0.0.1", addr.port(), ListenMode::Inherit)];
    let second = AppListeners::bind_with("web", &listen, quick())
        .await
        .expect("bind beside");
    drop(held);
    second.shutdown().await;
    // A plain listener (no SO_REUSEPORT) on an inherit port is still "in use".
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let listen = [on(
        "127.0.0.1",
        taken.local_addr().expect("addr").port(),
        ListenMode::Inherit,
    )];
    let error = AppListeners::bind("web", &listen)
        .await
        .expect_err("in use");
    assert!(matches!(error, NetError::PortInUse { .. }), "{error:?}");
}
