//! A newc ("070701") cpio archive writer: the initramfs format the kernel unpacks into its rootfs.
//!
//! Each entry is a 110-byte ASCII header (13 fields of 8 hex digits), the NUL-terminated name
//! padded to 4 bytes, then the data padded to 4 bytes; `TRAILER!!!` ends the archive.

use std::collections::BTreeSet;
use std::io::{self, Write};

/// An archive being written, remembering the directories already in it.
pub struct Cpio<W: Write> {
    out: W,
    next_ino: u32,
    written: u64,
    dirs: BTreeSet<String>,
}

impl<W: Write> Cpio<W> {
    /// An empty archive writing to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            next_ino: 1,
            written: 0,
            dirs: BTreeSet::new(),
        }
    }

    /// A directory (and its parents, once each), mode 0755.
    pub fn dir(&mut self, path: &str) -> io::Result<()> {
        let path = path.trim_matches('/');
        let mut sofar = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            if !sofar.is_empty() {
                sofar.push('/');
            }
            sofar.push_str(part);
            if self.dirs.insert(sofar.clone()) {
                let name = sofar.clone();
                self.entry(&name, 0o040_755, 2, (0, 0), &[])?;
            }
        }
        Ok(())
    }

    /// A regular file with `mode` permission bits; its parent directories are added first.
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> io::Result<()> {
        self.parent(path)?;
        self.entry(
            path.trim_start_matches('/'),
            0o100_000 | mode,
            1,
            (0, 0),
            data,
        )
    }

    /// A symbolic link at `path` pointing to `target`.
    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.parent(path)?;
        let path = path.trim_start_matches('/');
        self.entry(path, 0o120_777, 1, (0, 0), target.as_bytes())
    }

    /// A character device node (e.g. `/dev/console`, 5:1, which init's stdio needs).
    pub fn char_device(&mut self, path: &str, major: u32, minor: u32) -> io::Result<()> {
        self.parent(path)?;
        let path = path.trim_start_matches('/');
        self.entry(path, 0o020_600, 1, (major, minor), &[])
    }

    /// Writes the trailer; returns the writer and the archive's size in bytes.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        self.entry("TRAILER!!!", 0, 1, (0, 0), &[])?;
        self.out.flush()?;
        Ok((self.out, self.written))
    }

    fn parent(&mut self, path: &str) -> io::Result<()> {
        match path.trim_start_matches('/').rsplit_once('/') {
            Some((parent, _)) => self.dir(parent),
            None => Ok(()),
        }
    }

    fn entry(
        &mut self,
        name: &str,
        mode: u32,
        nlink: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> io::Result<()> {
        let ino = if name == "TRAILER!!!" {
            0
        } else {
            self.next_ino
        };
        self.next_ino += 1;
        let size = u32::try_from(data.len())
            .map_err(|_| io::Error::other(format!("{name}: over 4 GiB, too big for newc")))?;
        let fields = [
            ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            size,
            0, // devmajor
            0, // devminor
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0, // check
        ];
        let mut header = String::with_capacity(110);
        header.push_str("070701");
        for field in fields {
            header.push_str(&format!("{field:08x}"));
        }
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        let pad = (4 - (self.written % 4) as usize) % 4;
        self.put(&[0; 3][..pad])
    }
}

#[cfg(test)]
mod tests {
    use super::Cpio;

    #[test]
    fn entries_are_aligned_and_end_with_the_trailer() {
        let mut cpio = Cpio::new(Vec::new());
        cpio.file("/bin/x", 0o755, b"hello").unwrap();
        let (bytes, size) = cpio.finish().unwrap();
        assert_eq!(bytes.len() as u64, size);
        assert_eq!(size % 4, 0);
        // "bin" directory first, then the file, then the trailer.
        let text = String::from_utf8_lossy(&bytes);
        let headers: Vec<usize> = text.match_indices("070701").map(|(i, _)| i).collect();
        assert_eq!(headers.len(), 3, "{text:?}");
        assert!(headers.iter().all(|i| i % 4 == 0));
        let file = &text[headers[1]..headers[2]];
        // mode 0100755, filesize 5, namesize 6 ("bin/x" + NUL).
        assert_eq!(&file[14..22], "000081ed");
        assert_eq!(&file[54..62], "00000005");
        assert_eq!(&file[94..102], "00000006");
        assert!(file[110..].starts_with("bin/x\0"), "{file:?}");
        assert!(file.contains("hello"));
        assert!(text[headers[2]..].contains("TRAILER!!!"));
    }
}
