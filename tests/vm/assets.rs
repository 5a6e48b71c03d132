//! The VM's kernel and busybox: Debian's `linux-image-amd64` and `busybox-static` fetched with
//! `apt-get download` and unpacked once into a cache under `target/` (nothing is installed on
//! the host), or files named by `CORRAL_VM_KERNEL` / `CORRAL_VM_BUSYBOX`.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Kernel options the scenarios need, all built in (the harness loads no modules).
const NEEDED: [&str; 13] = [
    "CONFIG_BLK_DEV_INITRD",
    "CONFIG_SERIAL_8250_CONSOLE",
    "CONFIG_DEVTMPFS",
    "CONFIG_TMPFS",
    "CONFIG_UNIX",
    "CONFIG_INET",
    "CONFIG_CGROUPS",
    "CONFIG_MEMCG",
    "CONFIG_CGROUP_PIDS",
    "CONFIG_CGROUP_SCHED",
    "CONFIG_FAIR_GROUP_SCHED",
    "CONFIG_CFS_BANDWIDTH",
    "CONFIG_BINFMT_SCRIPT",
];

/// What the VM boots.
pub struct Assets {
    /// A kernel image QEMU can load: the uncompressed ELF with a PVH entry (boots in ~2 s
    /// under TCG) or else the bzImage (which spends ~12 s decompressing itself under TCG).
    pub kernel: PathBuf,
    /// A statically linked busybox.
    pub busybox: PathBuf,
}

/// The kernel and busybox, from the environment or the cache in `cache` (fetched if missing).
pub fn fetch(cache: &Path) -> Result<Assets, String> {
    fs::create_dir_all(cache).map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    Ok(Assets {
        kernel: kernel(cache)?,
        busybox: busybox(cache)?,
    })
}

fn kernel(cache: &Path) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("CORRAL_VM_KERNEL") {
        return Ok(PathBuf::from(path));
    }
    let package = kernel_package()?;
    let dir = cache.join(&package);
    let vmlinux = dir.join("vmlinux");
    let bzimage = dir.join("vmlinuz");
    let boot = dir.join("unpacked").join("boot");
    if vmlinux.exists() {
        check_config(&find_prefixed(&boot, "config-")?)?;
        return Ok(vmlinux);
    }
    if !bzimage.exists() {
        let deb = download(cache, &package)?;
        let unpacked = dir.join("unpacked");
        let _ = fs::remove_dir_all(&unpacked);
        fs::create_dir_all(&unpacked).map_err(|e| format!("mkdir {}: {e}", unpacked.display()))?;
        // Only boot/ (the image and its config): the package's 400 MB of modules stay packed.
        let mut tar_in = Command::new("dpkg-deb")
            .arg("--fsys-tarfile")
            .arg(&deb)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run dpkg-deb: {e}"))?;
        let stdout = tar_in.stdout.take().expect("piped stdout");
        let tar = Command::new("tar")
            .args(["-x", "--wildcards", "-C"])
            .arg(&unpacked)
            .arg("./boot/*")
            .stdin(Stdio::from(stdout))
            .status()
            .map_err(|e| format!("cannot run tar: {e}"))?;
        let dpkg = tar_in.wait().map_err(|e| format!("dpkg-deb: {e}"))?;
        if !tar.success() || !dpkg.success() {
            return Err(format!("cannot unpack boot/ of {}", deb.display()));
        }
        check_config(&find_prefixed(&boot, "config-")?)?;
        fs::rename(find_prefixed(&boot, "vmlinuz-")?, &bzimage)
            .map_err(|e| format!("cannot move the kernel image into {}: {e}", dir.display()))?;
        let _ = fs::remove_file(&deb); // 70 MB, no longer needed
    }
    let bytes = fs::read(&bzimage).map_err(|e| format!("read {}: {e}", bzimage.display()))?;
    match uncompressed_pvh(&bytes) {
        Ok(elf) => {
            let tmp = dir.join("vmlinux.tmp");
            fs::write(&tmp, elf).map_err(|e| format!("write {}: {e}", tmp.display()))?;
            fs::rename(&tmp, &vmlinux).map_err(|e| format!("rename {}: {e}", tmp.display()))?;
            Ok(vmlinux)
        }
        Err(why) => {
            eprintln!("vm: booting the compressed kernel (slower): {why}");
            Ok(bzimage)
        }
    }
}

/// The versioned package `linux-image-amd64` depends on (e.g. `linux-image-6.1.0-57-amd64`).
fn kernel_package() -> Result<String, String> {
    let out = Command::new("apt-cache")
        .args(["depends", "linux-image-amd64"])
        .output()
        .map_err(|e| format!("cannot run apt-cache (a Debian host is needed): {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Depends: "))
        .filter(|p| p.starts_with("linux-image-"))
        .map(|p| p.trim().to_string())
        .ok_or_else(|| {
            format!(
                "apt-cache does not know linux-image-amd64 (run apt-get update): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
}

fn busybox(cache: &Path) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("CORRAL_VM_BUSYBOX") {
        return Ok(PathBuf::from(path));
    }
    let dir = cache.join("busybox-static");
    let busybox = dir.join("bin/busybox");
    if busybox.exists() {
        return Ok(busybox);
    }
    let deb = download(cache, "busybox-static")?;
    let tmp = cache.join("busybox-static.tmp");
    let _ = fs::remove_dir_all(&tmp);
    run(Command::new("dpkg").arg("-x").arg(&deb).arg(&tmp))?;
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&tmp, &dir).map_err(|e| format!("rename {}: {e}", tmp.display()))?;
    let _ = fs::remove_file(&deb);
    Ok(busybox)
}

/// `apt-get download PACKAGE` into `cache/debs`; the `.deb` it wrote.
fn download(cache: &Path, package: &str) -> Result<PathBuf, String> {
    let debs = cache.join("debs");
    fs::create_dir_all(&debs).map_err(|e| format!("mkdir {}: {e}", debs.display()))?;
    let existing = |debs: &Path| -> Option<PathBuf> {
        fs::read_dir(debs)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{package}_")) && n.ends_with(".deb"))
            })
    };
    if let Some(deb) = existing(&debs) {
        return Ok(deb);
    }
    eprintln!(
        "vm: apt-get download {package} (cached in {})",
        debs.display()
    );
    run(Command::new("apt-get")
        .args(["download", "-q", package])
        .current_dir(&debs))?;
    existing(&debs).ok_or_else(|| format!("apt-get download {package} wrote no .deb"))
}

/// The one file in `dir` whose name starts with `prefix`.
fn find_prefixed(dir: &Path, prefix: &str) -> Result<PathBuf, String> {
    fs::read_dir(dir)
        .map_err(|e| format!("read {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .ok_or_else(|| format!("no {prefix}* in {}", dir.display()))
}

/// Refuses a kernel that has any of [`NEEDED`] as a module or not at all.
fn check_config(config: &Path) -> Result<(), String> {
    let text = fs::read_to_string(config).map_err(|e| format!("read {}: {e}", config.display()))?;
    let missing: Vec<&str> = NEEDED
        .iter()
        .copied()
        .filter(|option| !text.lines().any(|l| l == format!("{option}=y")))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the kernel ({}) does not have {} built in; the VM harness loads no modules",
            config.display(),
            missing.join(", ")
        ))
    }
}

/// The ELF kernel inside an xz-compressed bzImage, if it has a PVH entry note (QEMU then boots
/// it directly, skipping the decompressor, which is slow under TCG).
fn uncompressed_pvh(bzimage: &[u8]) -> Result<Vec<u8>, String> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(
            bzimage.get(at..at + 4)?.try_into().ok()?,
        ))
    };
    if bzimage.get(0x202..0x206) != Some(b"HdrS") {
        return Err("not a bzImage (no HdrS header)".into());
    }
    let setup_sects = match bzimage[0x1f1] {
        0 => 4,
        n => usize::from(n),
    };
    let start = (setup_sects + 1) * 512 + u32_at(0x248).unwrap_or(0) as usize;
    let len = u32_at(0x24c).unwrap_or(0) as usize;
    let payload = bzimage
        .get(start..start + len)
        .ok_or("the payload lies outside the bzImage")?;
    if !payload.starts_with(b"\xfd7zXZ\0") {
        return Err("the payload is not xz-compressed".into());
    }
    let mut xz = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run xz: {e}"))?;
    let mut stdin = xz.stdin.take().expect("piped stdin");
    let payload = payload.to_vec();
    let feeder = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &payload));
    let mut elf = Vec::new();
    let read = xz
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_end(&mut elf);
    let _ = feeder.join();
    let status = xz.wait().map_err(|e| format!("xz: {e}"))?;
    read.map_err(|e| format!("xz: {e}"))?;
    if !status.success() || !elf.starts_with(b"\x7fELF") {
        return Err(format!("xz did not give an ELF kernel ({status})"));
    }
    // An ELF note named "Xen" of type XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry point.
    let has_pvh = elf
        .windows(16)
        .any(|w| w[0..4] == [4, 0, 0, 0] && w[8..12] == [18, 0, 0, 0] && &w[12..16] == b"Xen\0");
    if has_pvh {
        Ok(elf)
    } else {
        Err("the kernel has no PVH entry note".into())
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
