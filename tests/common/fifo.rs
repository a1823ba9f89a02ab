//! A command whose stdin is a named pipe the test holds open: the command runs (and keeps its
//! repository lock) exactly as long as the test wants, with no sleeps (restic's own lock tests
//! use the same trick with `backup --stdin`).

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct HeldStdin {
    writer: Option<File>,
    child: Option<Child>,
}

/// Starts `cmd` reading from a new FIFO at `fifo`. The write end is opened before the command
/// starts, so it can never see an early end of input.
pub fn spawn_with_held_stdin(mut cmd: Command, fifo: &Path) -> HeldStdin {
    let name = CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: plain libc calls on a NUL-terminated path and on descriptors we own.
    let (reader, writer) = unsafe {
        assert_eq!(
            libc::mkfifo(name.as_ptr(), 0o600),
            0,
            "mkfifo {}",
            fifo.display()
        );
        // Non-blocking, so opening the read end does not wait for a writer...
        let r = libc::open(
            name.as_ptr(),
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
        );
        assert!(r >= 0, "open the FIFO for reading");
        // ...which makes this open succeed at once.
        let w = libc::open(name.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        assert!(w >= 0, "open the FIFO for writing");
        let flags = libc::fcntl(r, libc::F_GETFL);
        libc::fcntl(r, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        (File::from_raw_fd(r), File::from_raw_fd(w))
    };
    let child = cmd
        .stdin(Stdio::from(reader))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    HeldStdin {
        writer: Some(writer),
        child: Some(child),
    }
}

impl HeldStdin {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Writes `data`, closes the pipe and waits for the command to end.
    pub fn finish(mut self, data: &[u8]) -> std::process::Output {
        let mut writer = self.writer.take().unwrap();
        writer.write_all(data).unwrap();
        drop(writer);
        self.child.take().unwrap().wait_with_output().unwrap()
    }

    /// SIGKILLs the command (a crash: no cleanup of any kind).
    pub fn kill_hard(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for HeldStdin {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
