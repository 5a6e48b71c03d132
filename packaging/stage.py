#!/usr/bin/env python3
"""Lays out the Debian package of a given corral binary as cargo-deb would from Cargo.toml's
[package.metadata.deb] (same assets, maintainer scripts, changelog, copyright and control
fields), for `dpkg-deb --build`, without cargo-deb or a release build. `make deb-stage` runs it;
tests/deb.rs builds, lints and installs what it lays out. `make deb` uses cargo-deb itself.

usage: packaging/stage.py BINARY DIST_DIR OUT_DIR
  BINARY    the corral binary to package (stands for target/release/corral)
  DIST_DIR  what `BINARY dist DIST_DIR` wrote (stands for target/dist)
  OUT_DIR   the package's tree, with DEBIAN/ (emptied first)
"""

import glob
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def gzipped(data):
    """gzip -9n: no name or time in the header, so the package is reproducible."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def needs_compression(dest):
    """cargo-deb's rule: man pages and changelogs under usr/share are gzipped."""
    return not dest.endswith(".gz") and (
        dest.startswith("usr/share/man/")
        or (dest.startswith("usr/share/doc/") and dest.endswith(("/NEWS", "/changelog")))
    )


def put(out, dest, data, mode):
    if needs_compression(dest):
        data, dest = gzipped(data), dest + ".gz"
    path = os.path.join(out, dest)
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def main(binary, dist, out):
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        cargo = tomllib.load(f)
    package = cargo["package"]
    deb = package["metadata"]["deb"]
    name = package["name"]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "DEBIAN"))

    for source, dest, mode in deb["assets"]:
        mode = int(mode, 8)
        if source.startswith("target/release/"):
            sources = [binary]
        elif source.startswith("target/dist/"):
            sources = sorted(glob.glob(os.path.join(dist, source[len("target/dist/"):])))
        else:
            sources = sorted(glob.glob(os.path.join(ROOT, source)))
        if not sources:
            sys.exit(f"stage.py: asset {source} matches no file")
        for src in sources:
            target = dest + os.path.basename(src) if dest.endswith("/") else dest
            with open(src, "rb") as f:
                put(out, target, f.read(), mode)
            if src == binary:
                # cargo-deb strips the binaries it packages.
                subprocess.run(["strip", "--strip-unneeded", os.path.join(out, target)], check=True)

    doc = f"usr/share/doc/{name}/"
    with open(os.path.join(ROOT, deb["changelog"]), "rb") as f:
        put(out, doc + "changelog.Debian.gz", gzipped(f.read()), 0o644)
    copyright = (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        f"Upstream-Name: {name}\n"
        f"Copyright: {deb['copyright']}\n"
        f"License: {package['license']}\n"
    )
    put(out, doc + "copyright", copyright.encode(), 0o644)

    scripts = os.path.join(ROOT, deb["maintainer-scripts"])
    for script in ("preinst", "postinst", "prerm", "postrm"):
        path = os.path.join(scripts, script)
        if os.path.exists(path):
            shutil.copyfile(path, os.path.join(out, "DEBIAN", script))
            os.chmod(os.path.join(out, "DEBIAN", script), 0o755)

    sums, size = [], 0
    for base, _, files in sorted(os.walk(out)):
        for file in sorted(files):
            path = os.path.join(base, file)
            rel = os.path.relpath(path, out)
            if rel.startswith("DEBIAN/"):
                continue
            with open(path, "rb") as f:
                data = f.read()
            sums.append(f"{hashlib.md5(data).hexdigest()}  {rel}\n")
            size += (len(data) + 1023) // 1024
    with open(os.path.join(out, "DEBIAN", "md5sums"), "w") as f:
        f.writelines(sums)
    os.chmod(os.path.join(out, "DEBIAN", "md5sums"), 0o644)

    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    depends = shlibdeps(os.path.join(out, "usr/bin", name))
    description = deb["extended-description"].split()
    lines, line = [], ""
    for word in description:
        if line and len(line) + 1 + len(word) > 79:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    control = (
        f"Package: {name}\n"
        f"Version: {package['version']}-1\n"
        f"Architecture: {arch}\n"
        f"Section: {deb['section']}\n"
        f"Priority: {deb['priority']}\n"
        f"Maintainer: {deb['maintainer']}\n"
        f"Installed-Size: {size}\n"
        f"Depends: {depends}\n"
        f"Description: {package['description']}\n"
        + "".join(f" {l}\n" for l in lines)
    )
    with open(os.path.join(out, "DEBIAN", "control"), "w") as f:
        f.write(control)
    os.chmod(os.path.join(out, "DEBIAN", "control"), 0o644)


def shlibdeps(binary):
    """Depends: as cargo-deb's `$auto` computes it (dpkg-shlibdeps, libgcc left out)."""
    with tempfile.TemporaryDirectory() as work:
        # dpkg-shlibdeps wants a debian/control in its working directory, even an empty one.
        os.makedirs(os.path.join(work, "debian"))
        open(os.path.join(work, "debian", "control"), "w").close()
        out = subprocess.run(
            ["dpkg-shlibdeps", "-xlibgcc", "-O", os.path.abspath(binary)],
            cwd=work, capture_output=True, text=True, check=True,
        ).stdout
    line = next(l for l in out.splitlines() if l.startswith("shlibs:Depends="))
    deps = [d.strip() for d in line.split("=", 1)[1].split(",")]
    return ", ".join(d for d in deps if not d.startswith(("libgcc-", "libgcc1")))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
