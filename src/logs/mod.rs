//! Log capture, reading and following (DESIGN.md §6).
// STUB for the lead's integration; replaced by the logs branch (same public API).

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::home::Home;

/// Which output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// stdout.
    Out,
    /// stderr.
    Err,
}

/// The log file of one stream of one instance index.
pub fn log_file(home: &Home, app: &str, index: u32, stream: Stream) -> PathBuf {
    let suffix = match stream {
        Stream::Out => "out",
        Stream::Err => "err",
    };
    home.app_logs(app).join(format!("{index}.{suffix}.log"))
}

/// A named pipe carrying one stream of one instance.
#[derive(Debug)]
pub struct LogPipe {
    path: PathBuf,
}

impl LogPipe {
    /// Creates the FIFO.
    pub fn create(path: &Path) -> io::Result<LogPipe> {
        let _ = std::fs::remove_file(path);
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))?;
        Ok(LogPipe {
            path: path.to_path_buf(),
        })
    }
    /// An existing FIFO.
    pub fn open_existing(path: &Path) -> LogPipe {
        LogPipe {
            path: path.to_path_buf(),
        }
    }
    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The child's end, read-write.
    pub fn child_end(&self) -> io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
    }
    /// Unlinks it.
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Capture settings.
#[derive(Debug, Clone, Copy)]
pub struct CaptureOptions {
    /// Timestamp prefix.
    pub timestamps: bool,
}

/// A running capture.
pub struct Capture {
    task: tokio::task::JoinHandle<()>,
}

impl Capture {
    /// Lines lost.
    pub fn dropped_lines(&self) -> u64 {
        0
    }
    /// Waits for the end.
    pub async fn finished(self) {
        let _ = self.task.await;
    }
}

/// Starts capturing.
pub fn spawn_capture(
    pipe: &LogPipe,
    log_file: PathBuf,
    opts: CaptureOptions,
    stop: CancellationToken,
) -> io::Result<Capture> {
    let rx = tokio::net::unix::pipe::OpenOptions::new().open_receiver(&pipe.path)?;
    let task = tokio::spawn(async move {
        if let Some(dir) = log_file.parent() {
            let _ = tokio::fs::create_dir_all(dir).await;
        }
        let Ok(mut file) = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_file)
            .await
        else {
            return;
        };
        let mut lines = BufReader::new(rx).lines();
        loop {
            tokio::select! {
                line = lines.next_line() => match line {
                    Ok(Some(l)) => {
                        let text = if opts.timestamps { format!("{} {l}\n", humantime::format_rfc3339_millis(std::time::SystemTime::now())) } else { format!("{l}\n") };
                        let _ = file.write_all(text.as_bytes()).await;
                    }
                    _ => break,
                },
                _ = stop.cancelled() => break,
            }
        }
    });
    Ok(Capture { task })
}
