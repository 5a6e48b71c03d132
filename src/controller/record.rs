//! Writing the instance record (`instances.json`), which a controller started after a crash
//! or an upgrade adopts the instances from.

use super::Controller;

impl Controller {
    /// Writes the instance record; a failed write (a full disk) keeps the last good record on
    /// disk and says so once per run of failures, as an event and in the log.
    pub(super) async fn save_record(&mut self) {
        let path = self.config.home.instances_record();
        match self.supervisor.record().save(&path).await {
            Ok(()) if self.record_failing => {
                self.record_failing = false;
                tracing::info!("{} written again", path.display());
                let msg = format!("{} is up to date again", path.display());
                let about = crate::supervisor::About::Controller;
                self.supervisor
                    .events
                    .normal_about(about, "RecordWritten", msg);
            }
            Ok(()) => {}
            Err(e) => {
                tracing::error!("cannot write {}: {e}; its last good version is kept, and a controller started after a crash may not find the instances started since", path.display());
                if !self.record_failing {
                    self.record_failing = true;
                    let msg = format!(
                        "cannot write {}: {e}; the last good record is kept (free space on its file system)",
                        path.display()
                    );
                    let about = crate::supervisor::About::Controller;
                    self.supervisor
                        .events
                        .warning_about(about, "RecordWriteFailed", msg);
                }
            }
        }
    }
}
