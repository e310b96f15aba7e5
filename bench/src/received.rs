//! When bytes reached a subscriber's machine: the kernel's receive time of what a read returns
//! (`SO_TIMESTAMPING`, software receive stamps), not the time the subscriber's task got to read
//! it. The subscribers stand for browsers on other machines; here they share two cores and one
//! runtime with the load generator, so the time their task is scheduled says as much about the
//! bench as about the API.

use std::io;
use std::mem::{MaybeUninit, size_of, zeroed};
use std::os::fd::AsRawFd;

use chrono::{DateTime, Utc};
use tokio::io::Interest;
use tokio::net::TcpStream;

// linux/net_tstamp.h and asm-generic/socket.h (x86_64, aarch64): not all of them are in `libc`
const SO_TIMESTAMPING: libc::c_int = 37;
const SOF_TIMESTAMPING_RX_SOFTWARE: libc::c_uint = 1 << 3;
const SOF_TIMESTAMPING_SOFTWARE: libc::c_uint = 1 << 4;

/// Asks the kernel to stamp what `socket` receives.
pub fn stamp_receipts(socket: &TcpStream) -> io::Result<()> {
    let flags: libc::c_uint = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
    // SAFETY: a valid descriptor, and a pointer to a c_uint of the length given
    let done = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_TIMESTAMPING,
            (&raw const flags).cast(),
            size_of::<libc::c_uint>() as libc::socklen_t,
        )
    };
    if done != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads what `socket` has into `buf`'s spare capacity (growing it when full): the bytes read
/// (0 at the end of the stream) and when the kernel received the last of them, if it said.
pub async fn read(socket: &TcpStream, buf: &mut Vec<u8>) -> io::Result<(usize, Option<DateTime<Utc>>)> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(16 * 1024);
    }
    loop {
        socket.readable().await?;
        match socket.try_io(Interest::READABLE, || receive(socket, buf)) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            read => return read,
        }
    }
}

/// One `recvmsg` into `buf`'s spare capacity, with room for the stamp's control message.
fn receive(socket: &TcpStream, buf: &mut Vec<u8>) -> io::Result<(usize, Option<DateTime<Utc>>)> {
    let spare = buf.spare_capacity_mut();
    let mut iov = libc::iovec { iov_base: spare.as_mut_ptr().cast(), iov_len: spare.len() };
    // room for one `scm_timestamping` (three timespecs) and its header, aligned as a cmsghdr
    let mut control = [MaybeUninit::<u64>::uninit(); 16];
    // SAFETY: msghdr is plain data; the pointers set below outlive the call
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control);
    // SAFETY: the iovec points at `spare`, writable for its length; the control buffer likewise
    let read = unsafe { libc::recvmsg(socket.as_raw_fd(), &raw mut msg, 0) };
    if read < 0 {
        return Err(io::Error::last_os_error());
    }
    let read = read as usize;
    // SAFETY: the kernel wrote `read` bytes into the spare capacity
    unsafe { buf.set_len(buf.len() + read) };
    Ok((read, stamp_of(&msg)))
}

/// The software receive stamp among `msg`'s control messages.
fn stamp_of(msg: &libc::msghdr) -> Option<DateTime<Utc>> {
    // SAFETY: walking the control messages the kernel wrote, within msg_controllen
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == SO_TIMESTAMPING {
                // struct scm_timestamping { struct timespec ts[3]; }: ts[0] is the software stamp
                let stamp = libc::CMSG_DATA(header).cast::<libc::timespec>().read_unaligned();
                return DateTime::from_timestamp(stamp.tv_sec, stamp.tv_nsec as u32);
            }
            header = libc::CMSG_NXTHDR(msg, header);
        }
    }
    None
}
