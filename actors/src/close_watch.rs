//! Notice of a file being closed after writing (Linux inotify), so that a C hit can digest the
//! preprocessor's output while the compiler driver is still on its way out: gcc's driver exits
//! a while after cc1 has closed its output (about a millisecond on the 2-core machine), and the
//! digest and lookup fit in that gap.
//!
//! Only a hint. The flow uses what it read early only when, once the preprocessor has exited
//! successfully, exactly one close-after-write of the file was reported and the file is still
//! the one that was read (`FileStamp`). A compiler that writes its output elsewhere and renames
//! it into place (clang) never triggers the watch; its hits take the ordinary path.
//!
//! One inotify instance serves every watch of a thread (the compile flows run on the server's
//! event loop): instances are a scarce per-user resource (128 by default) that editors and file
//! watchers of the same user need too, and closing one waits for a kernel grace period.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::rc::Rc;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The thread's inotify instance and the closes counted per watch.
struct Instance {
    inotify: AsyncFd<OwnedFd>,
    /// Closes-after-write read from the queue so far, by watch descriptor.
    closes: RefCell<HashMap<i32, u32>>,
}

thread_local! {
    /// Made on first use; `None` when inotify is unavailable (then no watch is ever made).
    static INSTANCE: Option<Rc<Instance>> = Instance::new().ok().map(Rc::new);
}

impl Instance {
    fn new() -> io::Result<Instance> {
        // SAFETY: inotify_init1 takes no pointers; the result is checked before use.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor just returned to us and owned by nothing else.
        let descriptor = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the OwnedFd keeps the descriptor open, naming the same one, for as long as
        // the AsyncFd owns it.
        let inotify = unsafe { AsyncFd::register_with_interest(descriptor, Interest::READABLE) }?;
        Ok(Instance {
            inotify,
            closes: RefCell::new(HashMap::new()),
        })
    }

    /// Reads whatever events are queued and counts each watch's closes-after-write.
    fn drain(&self) -> io::Result<()> {
        const EVENT_HEADER: usize = std::mem::size_of::<libc::inotify_event>();
        let mut buffer = [0u8; 4096];
        loop {
            // SAFETY: the buffer is valid for writes of its whole length.
            let length = unsafe {
                libc::read(
                    self.inotify.get_ref().as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                )
            };
            let Ok(length) = usize::try_from(length) else {
                let error = io::Error::last_os_error();
                return match error.kind() {
                    io::ErrorKind::WouldBlock => Ok(()),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(error),
                };
            };
            let mut closes = self.closes.borrow_mut();
            let mut offset = 0;
            while offset + EVENT_HEADER <= length {
                // The header: wd (i32), mask (u32), cookie (u32), len (u32), then the name.
                let field = |at: usize| {
                    let start = offset + at;
                    buffer
                        .get(start..start + 4)
                        .and_then(|bytes| bytes.try_into().ok())
                        .map_or(0, u32::from_ne_bytes)
                };
                let watch = field(0) as i32;
                if field(4) & libc::IN_CLOSE_WRITE != 0 {
                    if let Some(count) = closes.get_mut(&watch) {
                        *count += 1;
                    }
                }
                offset += EVENT_HEADER + field(12) as usize;
            }
        }
    }
}

/// A watch for closes-after-write of one file, removed when dropped.
pub struct CloseWatch {
    instance: Rc<Instance>,
    watch: i32,
}

impl CloseWatch {
    /// Watches the file at `path`, which must exist. Fails when inotify is unavailable or out
    /// of watches; the caller then goes without.
    pub fn new(path: &Path) -> io::Result<CloseWatch> {
        let instance = INSTANCE
            .with(Clone::clone)
            .ok_or_else(|| io::Error::other("inotify is unavailable"))?;
        let name = CString::new(path.as_os_str().as_bytes())?;
        // SAFETY: `name` is a NUL-terminated string that outlives the call.
        let watch = unsafe {
            libc::inotify_add_watch(
                instance.inotify.get_ref().as_raw_fd(),
                name.as_ptr(),
                libc::IN_CLOSE_WRITE,
            )
        };
        if watch < 0 {
            return Err(io::Error::last_os_error());
        }
        // A descriptor is new for each watch (the kernel does not reuse them soon), so no
        // count is inherited from an earlier file.
        instance.closes.borrow_mut().insert(watch, 0);
        Ok(CloseWatch { instance, watch })
    }

    /// Resolves once a close-after-write of the file has been reported.
    pub async fn closed(&self) -> io::Result<()> {
        loop {
            self.instance.drain()?;
            if self.count() > 0 {
                return Ok(());
            }
            let mut ready = self.instance.inotify.readable().await?;
            // Whoever drains first counts every watch's events; the rest find nothing to read.
            ready.clear_ready();
        }
    }

    /// How many closes-after-write of the file have been reported so far, queued ones too.
    pub fn closes(&self) -> u32 {
        // A failed read adds nothing; the count stays as it was.
        let _ = self.instance.drain();
        self.count()
    }

    /// Whether the file has been closed after writing at least once.
    pub fn seen(&self) -> bool {
        self.closes() > 0
    }

    fn count(&self) -> u32 {
        self.instance
            .closes
            .borrow()
            .get(&self.watch)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for CloseWatch {
    fn drop(&mut self) {
        self.instance.closes.borrow_mut().remove(&self.watch);
        // SAFETY: plain integers. Fails harmlessly when the kernel already removed the watch
        // (the file was deleted).
        unsafe { libc::inotify_rm_watch(self.instance.inotify.get_ref().as_raw_fd(), self.watch) };
    }
}

/// What identifies a file's contents for the span of one compile: which inode, its size and
/// its last modification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    device: u64,
    inode: u64,
    size: u64,
    modified: (i64, i64),
}

impl FileStamp {
    pub fn of(metadata: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
        }
    }

    /// The stamp of the file now at `path`.
    pub fn at(path: &Path) -> Option<FileStamp> {
        std::fs::metadata(path)
            .ok()
            .map(|metadata| FileStamp::of(&metadata))
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on anything unexpected"
)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Duration;

    fn write_later(path: &Path, delay: Duration) -> std::thread::JoinHandle<()> {
        let path = path.to_owned();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let mut out = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            out.write_all(b"int x;\n").unwrap();
        })
    }

    #[actix_rt::test]
    async fn closes_after_writing_are_reported_and_counted_per_file() {
        let first = tempfile::NamedTempFile::new().unwrap();
        let second = tempfile::NamedTempFile::new().unwrap();
        let watch = CloseWatch::new(first.path()).unwrap();
        let other = CloseWatch::new(second.path()).unwrap();
        // Reading is no close-after-write.
        std::fs::read(first.path()).unwrap();
        assert!(!watch.seen());
        let writer = write_later(first.path(), Duration::from_millis(50));
        tokio::time::timeout(Duration::from_secs(5), watch.closed())
            .await
            .unwrap()
            .unwrap();
        writer.join().unwrap();
        assert_eq!(watch.closes(), 1);
        assert_eq!(other.closes(), 0, "another file's close was counted");
        std::fs::OpenOptions::new()
            .write(true)
            .open(first.path())
            .unwrap();
        assert_eq!(watch.closes(), 2, "a second write went unnoticed");
        // Already reported: resolves at once.
        watch.closed().await.unwrap();
        // The other watch is woken by its own file, even when the first one drains the queue.
        let writer = write_later(second.path(), Duration::from_millis(50));
        let (_, closed) = tokio::join!(
            async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                watch.closes()
            },
            tokio::time::timeout(Duration::from_secs(5), other.closed())
        );
        closed.unwrap().unwrap();
        writer.join().unwrap();
        assert_eq!(other.closes(), 1);
    }

    #[test]
    fn a_stamp_changes_with_the_contents_or_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.i");
        std::fs::write(&path, b"int x;\n").unwrap();
        let first = FileStamp::at(&path).unwrap();
        assert_eq!(FileStamp::at(&path), Some(first));
        std::fs::write(&path, b"int xy;\n").unwrap();
        assert_ne!(FileStamp::at(&path), Some(first));
        let other = dir.path().join("b.i");
        std::fs::write(&other, b"int x;\n").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_ne!(
            FileStamp::at(&path).map(|stamp| stamp.inode),
            Some(first.inode)
        );
    }
}
