//! Frames between the controller and its spawner: a little-endian `u32` length, then that many
//! bytes of JSON, over a unix stream socket; file descriptors ride with the frame's first bytes
//! (`SCM_RIGHTS`), so a reader that takes the length gets them too.

use std::io::{self, IoSlice, IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

/// The most fds one frame carries (the kernel's `SCM_MAX_FD` is 253).
pub const MAX_FDS: usize = 64;

/// The largest frame accepted: argv and environment are bounded by the kernel's ARG_MAX (a
/// quarter of the stack limit, 2 MiB by default); a larger one is refused as exec would
/// (E2BIG).
const MAX_FRAME: usize = 16 << 20;

/// Sends `body` as one frame with `fds` attached.
pub fn send(socket: &UnixStream, body: &[u8], fds: &[RawFd]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::other(format!("{} fds in one frame", fds.len())));
    }
    let len = u32::try_from(body.len())
        .ok()
        .filter(|n| (*n as usize) <= MAX_FRAME)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::E2BIG))?
        .to_le_bytes();
    let mut sent = 0;
    let total = len.len() + body.len();
    while sent < total {
        let (head, tail) = if sent < len.len() {
            (&len[sent..], body)
        } else {
            (&[][..], &body[sent - len.len()..])
        };
        let iov = [IoSlice::new(head), IoSlice::new(tail)];
        let rights = [ControlMessage::ScmRights(fds)];
        let cmsgs: &[ControlMessage] = if sent == 0 && !fds.is_empty() {
            &rights
        } else {
            &[]
        };
        match sendmsg::<()>(
            socket.as_raw_fd(),
            &iov,
            cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(n) => sent += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Receives one frame and the fds that came with it; `None` at end of stream.
pub fn receive(socket: &UnixStream) -> io::Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
    let mut len = [0u8; 4];
    let mut fds = Vec::new();
    let mut got = 0;
    while got < len.len() {
        let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
        let mut iov = [IoSliceMut::new(&mut len[got..])];
        let msg = match recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => msg,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        for cmsg in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(raw) = cmsg {
                // SAFETY: the kernel just installed these fds in this process for us alone.
                fds.extend(
                    raw.into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        if msg.bytes == 0 {
            return match got {
                0 => Ok(None),
                _ => Err(io::ErrorKind::UnexpectedEof.into()),
            };
        }
        got += msg.bytes;
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::other(format!("a frame of {len} bytes")));
    }
    let mut body = vec![0; len];
    (&*socket).read_exact(&mut body)?;
    Ok(Some((body, fds)))
}
