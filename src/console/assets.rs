//! The page's files, embedded in the binary (`src/console/assets/`), served under names that
//! carry the first 12 hex digits of their sha256 (`/assets/app.3f2a…js`) so a browser may keep
//! them for a year; `index.html` names them so and is revalidated on every load.

use sha2::{Digest, Sha256};

/// One embedded file.
#[derive(Debug, Clone)]
pub struct Asset {
    /// Its name in `assets/` (`app.js`).
    pub name: &'static str,
    /// Its name with the hash (`app.3f2a9c01b2d4.js`).
    pub hashed: String,
    /// Its bytes.
    pub bytes: &'static [u8],
    /// Its `Content-Type`.
    pub content_type: &'static str,
}

/// `Content-Type` of the page's scripts (ES modules).
const JS: &str = "text/javascript; charset=utf-8";

/// The files, as built into this binary. `app.js` imports the other scripts by their plain
/// names (`./dom.js`), which are served revalidated; the page names `app.js` by its hash.
const FILES: [(&str, &[u8], &str); 9] = [
    ("app.js", include_bytes!("assets/app.js"), JS),
    ("dom.js", include_bytes!("assets/dom.js"), JS),
    ("charts.js", include_bytes!("assets/charts.js"), JS),
    ("live.js", include_bytes!("assets/live.js"), JS),
    ("overview.js", include_bytes!("assets/overview.js"), JS),
    ("appview.js", include_bytes!("assets/appview.js"), JS),
    ("logs.js", include_bytes!("assets/logs.js"), JS),
    (
        "app.css",
        include_bytes!("assets/app.css"),
        "text/css; charset=utf-8",
    ),
    (
        "icon.svg",
        include_bytes!("assets/icon.svg"),
        "image/svg+xml",
    ),
];

/// The page itself, before the hashed names are filled in.
const INDEX: &[u8] = include_bytes!("assets/index.html");

/// Every asset and the page, hashed once at start.
#[derive(Debug, Clone)]
pub struct Assets {
    /// The files under `/assets/`.
    pub files: Vec<Asset>,
    /// `index.html` naming the hashed files.
    pub index: String,
}

impl Assets {
    /// Hashes every file and writes their hashed names into `index.html`.
    pub fn load() -> Self {
        let files: Vec<Asset> = FILES
            .iter()
            .map(|&(name, bytes, content_type)| Asset {
                name,
                hashed: hashed_name(name, bytes),
                bytes,
                content_type,
            })
            .collect();
        let mut index = String::from_utf8_lossy(INDEX).into_owned();
        for f in &files {
            index = index.replace(
                &format!("/assets/{}\"", f.name),
                &format!("/assets/{}\"", f.hashed),
            );
        }
        Self { files, index }
    }

    /// The file served at `/assets/NAME`, and whether NAME is its hashed (immutable) name.
    pub fn find(&self, name: &str) -> Option<(&Asset, bool)> {
        self.files.iter().find_map(|f| {
            if f.hashed == name {
                Some((f, true))
            } else if f.name == name {
                Some((f, false))
            } else {
                None
            }
        })
    }

    /// The hashed name of `name`.
    pub fn hashed(&self, name: &str) -> Option<&str> {
        let f = self.files.iter().find(|f| f.name == name)?;
        Some(&f.hashed)
    }
}

/// `app.js` → `app.HASH.js`, HASH the first 12 hex digits of the bytes' sha256.
fn hashed_name(name: &str, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
        None => format!("{name}.{hash}"),
    }
}

/// The page `/` shows without a session: how to get in.
pub fn login_page(css: Option<&str>, sentence: &str) -> String {
    let style = css
        .map(|c| format!("<link rel=\"stylesheet\" href=\"/assets/{c}\">\n"))
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n<title>corral: log in</title>\n\
         {style}</head>\n<body>\n<main class=\"login\">\n<h1>corral</h1>\n<p>{sentence}</p>\n\
         <p>Run <code>corral console-url</code> on the controller's host (as a user who may \
         use its socket) and open the link it prints: it logs you in once.</p>\n</main>\n\
         </body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_hash_and_the_page_uses_them() {
        let assets = Assets::load();
        let js = assets.hashed("app.js").expect("app.js");
        assert!(js.starts_with("app.") && js.ends_with(".js") && js.len() == "app..js".len() + 12);
        assert_eq!(
            assets.find(js).map(|(a, immutable)| (a.name, immutable)),
            Some(("app.js", true))
        );
        assert_eq!(assets.find("app.js").map(|(_, i)| i), Some(false));
        assert!(assets.find("nope.js").is_none());
        assert!(
            !assets.index.contains("/assets/app.js\""),
            "{}",
            assets.index
        );
    }

    #[test]
    fn the_hash_follows_the_bytes() {
        assert_ne!(hashed_name("a.js", b"1"), hashed_name("a.js", b"2"));
        assert_eq!(hashed_name("a.js", b"1"), hashed_name("a.js", b"1"));
    }
}
