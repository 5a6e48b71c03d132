//! Importing other process managers' configurations as commented App manifests (PM2 first).

pub mod pm2;
mod yaml;

/// One manifest made from an imported app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The app's name (a valid DNS label), also the file's stem.
    pub name: String,
    /// The manifest text, with comments saying where each setting came from.
    pub text: String,
    /// Keys that have no meaning in corral, or were changed on the way, one sentence each.
    pub warnings: Vec<String>,
}
