//! Answers to control API requests, on the controller loop.

use std::time::Instant;

use super::{history, status, Controller};
use crate::api::{ApiRequest, ControllerInfo, Reply};

impl Controller {
    /// Answers one API request.
    pub(super) async fn on_api(&mut self, req: ApiRequest) {
        match req {
            ApiRequest::List { reply } => {
                let _ = reply.send(status::app_list(self, Instant::now()));
            }
            ApiRequest::Get { name, reply } => {
                let _ = reply.send(status::app_status(self, &name, Instant::now()));
            }
            ApiRequest::Restart { name, reply } => {
                let result = match self
                    .templates
                    .get(&name)
                    .filter(|_| self.desired.contains_key(&name))
                {
                    None => Err(not_found(&name)),
                    Some(t) => {
                        let (signal, timeout) = (t.stop.signal.0, t.stop.timeout.0);
                        let n = self.supervisor.restart_app(&name, signal, timeout);
                        Ok(Reply {
                            message: format!("app/{name} restarted ({n} instance(s))"),
                        })
                    }
                };
                let _ = reply.send(result);
            }
            ApiRequest::Reload { name, reply } => {
                let result = if self.desired.contains_key(&name) {
                    *self.reloads.entry(name.clone()).or_default() += 1;
                    self.reload_logged().await;
                    self.supervisor.events.normal(
                        &name,
                        "Reloading",
                        "rolling restart requested".into(),
                    );
                    Ok(Reply {
                        message: format!("app/{name} reloading (rolling restart)"),
                    })
                } else {
                    Err(not_found(&name))
                };
                let _ = reply.send(result);
            }
            ApiRequest::Rollout { name, verb, reply } => {
                let hook = match verb {
                    crate::api::RolloutVerb::Retry => self.retry_hook(&name).await,
                    _ => None,
                };
                let result = match hook {
                    Some(reply) => Ok(reply),
                    None => self.on_rollout_verb(&name, verb),
                };
                // Saved before the answer: an acknowledged promote or abort survives a crash.
                self.canaries.save().await;
                let _ = reply.send(result);
            }
            ApiRequest::Resync { reply } => {
                self.reload_logged().await;
                let _ = reply.send(Reply {
                    message: "manifests re-read".into(),
                });
            }
            ApiRequest::History { name, reply } => {
                let _ = reply.send(self.histories.get(&name).map(history::History::infos));
            }
            ApiRequest::Events { reply } => {
                let _ = reply.send(self.supervisor.events.subscribe());
            }
            // Taken by the loop itself (it answers the API while the successor starts).
            ApiRequest::Upgrade { reply } => {
                let _ = reply.send(Err("an upgrade cannot start from here".into()));
            }
            ApiRequest::Shutdown { reply } => {
                let _ = reply.send(Reply {
                    message: "the controller is already exiting".into(),
                });
            }
            ApiRequest::Info { reply } => {
                let _ = reply.send(ControllerInfo {
                    manifests: self.config.manifests.display().to_string(),
                    profile: self.config.profile.clone(),
                    pid: std::process::id(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    commit: self.commit.clone().and_then(Result::ok),
                });
            }
        }
    }
}

fn not_found(name: &str) -> String {
    format!("app \"{name}\" not found: corral get lists apps")
}
