//! What the service manager is doing, for `--live-restore`: apps outlive a controller that is
//! stopped or restarted, but not the system itself going down.

use std::time::Duration;

/// How long `systemctl is-system-running` may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether systemd (the system's, or the user's manager for a user unit) is shutting down:
/// `systemctl is-system-running` prints `stopping`. No systemctl, or no answer: false.
pub async fn shutting_down() -> bool {
    let mut cmd = tokio::process::Command::new("systemctl");
    if !nix::unistd::geteuid().is_root() {
        cmd.arg("--user");
    }
    cmd.arg("is-system-running")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let Ok((child, owned)) = crate::children::spawn(&mut cmd) else {
        return false;
    };
    match tokio::time::timeout(ASK_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(output)) => {
            owned.reaped();
            String::from_utf8_lossy(&output.stdout).trim() == "stopping"
        }
        _ => false,
    }
}
