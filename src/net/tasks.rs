//! The owner of every task an app's listeners spawn, so shutdown can stop and join them all.

use std::future::Future;

use hyper::rt::Executor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Spawns tracked tasks; `stop` asks them to wind down, `kill` ends them where they stand.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tasks {
    /// Joins every spawned task.
    tracker: TaskTracker,
    /// Graceful: stop accepting, finish what is in flight.
    pub(crate) stop: CancellationToken,
    /// Handed over to a new controller: stop accepting, tell keep-alive clients to go (each
    /// gets `Connection: close` with its next response), finish what is in flight.
    pub(crate) handover: CancellationToken,
    /// Hard: drop whatever a task is doing.
    kill: CancellationToken,
}

impl Tasks {
    /// Spawns `fut` on the runtime; it is dropped when `kill` fires.
    pub(crate) fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let kill = self.kill.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                biased;
                _ = kill.cancelled() => {}
                _ = fut => {}
            }
        });
    }

    /// Like [`spawn`](Self::spawn), on another runtime (a proxy worker's).
    pub(crate) fn spawn_on<F>(&self, fut: F, runtime: &tokio::runtime::Handle)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let kill = self.kill.clone();
        self.tracker.spawn_on(
            async move {
                tokio::select! {
                    biased;
                    _ = kill.cancelled() => {}
                    _ = fut => {}
                }
            },
            runtime,
        );
    }

    /// Hands over (see `handover`): waits up to `drain` for the open connections to end,
    /// then closes the idle rest gracefully (one more second), then kills and joins.
    pub(crate) async fn hand_over(&self, drain: std::time::Duration) {
        self.handover.cancel();
        self.tracker.close();
        if tokio::time::timeout(drain, self.tracker.wait())
            .await
            .is_err()
        {
            self.shutdown(std::time::Duration::from_secs(1)).await;
        }
    }

    /// Whether the app's sockets were handed over to a new controller.
    pub(crate) fn handing_over(&self) -> bool {
        self.handover.is_cancelled()
    }

    /// Resolves when accepting must end: shutdown or hand-over.
    pub(crate) async fn accepting_ends(&self) {
        tokio::select! {
            _ = self.stop.cancelled() => {}
            _ = self.handover.cancelled() => {}
        }
    }

    /// Ends every task abruptly (used on drop, without waiting).
    pub(crate) fn kill(&self) {
        self.stop.cancel();
        self.kill.cancel();
    }

    /// Stops accepting, gives in-flight work `grace` to finish, then kills and joins the rest.
    pub(crate) async fn shutdown(&self, grace: std::time::Duration) {
        self.stop.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            self.kill.cancel();
            self.tracker.wait().await;
        }
    }
}

/// Lets hyper spawn its connection tasks as tracked tasks.
impl<F> Executor<F> for Tasks
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        self.spawn(async move {
            fut.await;
        });
    }
}
