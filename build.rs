//! Link options of the release binary: the functions the controller runs first and together
//! (link/hot-functions.txt), and packed relative relocations, so that the code and tables it
//! touches take few pages (link/README.md). Other builds link as usual.

use std::env;
use std::path::Path;
use std::process::Command;

/// The list written by link/profile.sh.
const HOT_FUNCTIONS: &str = "link/hot-functions.txt";
/// Set to any value to link without these options (another linker, a debugging session).
const OPT_OUT: &str = "CORRAL_PLAIN_LINK";

fn main() {
    println!("cargo:rerun-if-changed={HOT_FUNCTIONS}");
    println!("cargo:rerun-if-env-changed={OPT_OUT}");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let target = var("TARGET");
    // rustc links this target with its own lld since 1.90; a cross build may link for another
    // libc than the one here.
    if var("PROFILE") != "release"
        || env::var_os(OPT_OUT).is_some()
        || target != "x86_64-unknown-linux-gnu"
        || var("HOST") != target
        || !rustc_links_with_lld(&var("RUSTC"))
    {
        return;
    }
    let hot = Path::new(&var("CARGO_MANIFEST_DIR")).join(HOT_FUNCTIONS);
    if hot.is_file() {
        // Names the binary no longer has (a newer toolchain or dependency) are skipped.
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            hot.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
    // DT_RELR: the relocation table shrinks from ~330 KiB to a few KiB, but the loader must
    // know it (glibc 2.36 and later; this build runs where it links).
    if glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether `rustc` is 1.90 or later, which links x86_64-unknown-linux-gnu with rust-lld unless
/// told otherwise in RUSTFLAGS.
fn rustc_links_with_lld(rustc: &str) -> bool {
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if flags.contains("linker") || flags.contains("fuse-ld") {
        return false;
    }
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    version_of(Command::new(rustc).arg("-V")) >= (1, 90)
}

/// Whether this host's glibc is at least `major.minor` (`getconf GNU_LIBC_VERSION`).
fn glibc_at_least(major: u32, minor: u32) -> bool {
    // "glibc 2.36"
    version_of(Command::new("getconf").arg("GNU_LIBC_VERSION")) >= (major, minor)
}

/// Major and minor of the version `command` prints as its second word; (0, 0) if it cannot run.
fn version_of(command: &mut Command) -> (u32, u32) {
    let Ok(out) = command.output() else {
        return (0, 0);
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().nth(1).unwrap_or("");
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}
