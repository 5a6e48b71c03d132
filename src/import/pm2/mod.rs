//! `corral import pm2`: a PM2 ecosystem file becomes one commented App manifest per app.

mod keys;
mod load;
mod map;
mod paths;
mod units;

use std::path::{Path, PathBuf};

pub use map::Context;

use super::Imported;

/// Why an ecosystem file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", file.display())]
    Read {
        /// The ecosystem file.
        file: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Node.js could not evaluate it.
    #[error("{}: {why}", file.display())]
    Node {
        /// The ecosystem file.
        file: PathBuf,
        /// What went wrong, and how to fix it.
        why: String,
    },
    /// It is not an ecosystem file.
    #[error("{}: {why}", file.display())]
    Invalid {
        /// The ecosystem file.
        file: PathBuf,
        /// What is wrong, and how to fix it.
        why: String,
    },
}

/// Imports every app of the ecosystem `file`; manifests will live in `ctx.out_dir`.
pub fn import_file(file: &Path, ctx: &Context) -> Result<Vec<Imported>, ImportError> {
    let (apps, top_level) = load::apps(file)?;
    let source = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut out: Vec<Imported> = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let Some(app) = app.as_object() else { continue };
        let mut imported = map::map_app(app, i, &source, ctx);
        // Two apps may end up with one name (PM2 allows it with namespaces): keep files apart.
        let base = imported.name.clone();
        let mut n = 2;
        while out.iter().any(|o| o.name == imported.name) {
            imported.name = format!("{}-{n}", &base[..base.len().min(60)]);
            n += 1;
        }
        if imported.name != base {
            imported.text = imported.text.replacen(
                &format!("name: {base}\n"),
                &format!("name: {}\n", imported.name),
                1,
            );
            imported.warnings.push(format!(
                "app {base:?} is defined twice; the second is named {:?}",
                imported.name
            ));
        }
        out.push(imported);
    }
    if let Some(first) = out.first_mut() {
        for key in top_level {
            let hint = match key.as_str() {
                "deploy" => "corral does not deploy code; publish the checkout with git (see the README's GitOps set-ups)",
                _ => "not an app setting",
            };
            first
                .warnings
                .push(format!("top-level key {key:?} is not imported: {hint}"));
        }
    }
    Ok(out)
}
