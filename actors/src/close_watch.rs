//! Notice of a file being closed after writing (Linux inotify), so that a C hit can digest the
//! preprocessor's output while the compiler driver is still on its way out: gcc's driver exits
//! a while after cc1 has closed its output (about a millisecond on the 2-core machine), and the
//! digest and lookup fit in that gap.
//!
//! Only a hint. The flow uses what it read early only when, once the preprocessor has exited
//! successfully, exactly one close-after-write of the file was reported and the file is still
//! the one that was read (`file_stamp`). A compiler that writes its output elsewhere and
//! renames it into place (clang) never triggers the watch; its hits take the ordinary path.
//!
//! One inotify instance serves every watch of a thread (the compile flows run on the server's
//! event loop): instances are a scarce per-user resource (128 by default) that editors and file
//! watchers of the same user need too, and closing one waits for a kernel grace period.

use rustix::fs::inotify;
use rustix::io::Errno;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::rc::Rc;
use std::task::{Poll, Waker};
use tokio::io::unix::AsyncFd;

/// The thread's inotify instance, and what each watch has seen.
struct Instance {
    inotify: AsyncFd<OwnedFd>,
    watches: RefCell<HashMap<i32, Seen>>,
    /// Set when reading the queue failed: every watch then fails too.
    broken: Cell<bool>,
}

/// One watch's closes-after-write so far, and the task waiting for the first.
#[derive(Default)]
struct Seen {
    closes: u32,
    waiting: Option<Waker>,
}

thread_local! {
    /// Made on first use; `None` when inotify is unavailable (then no watch is ever made).
    static INSTANCE: Option<Rc<Instance>> = Instance::start().ok();
}

impl Instance {
    /// Makes the instance and spawns its reader on this thread's event loop: the reader is
    /// the only one to wait for the descriptor's readiness, so no waiter can miss an event
    /// that somebody else read.
    fn start() -> io::Result<Rc<Instance>> {
        let descriptor =
            inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)?;
        let inotify = crate::sys::readable(descriptor)?;
        let instance = Rc::new(Instance {
            inotify,
            watches: RefCell::new(HashMap::new()),
            broken: Cell::new(false),
        });
        tokio::task::spawn_local(read_forever(Rc::clone(&instance)));
        Ok(instance)
    }

    /// Reads whatever events are queued, counts each watch's closes-after-write and wakes the
    /// task waiting on a watch that saw its first. A lost event (the queue overflowed) makes
    /// every watch's early read unusable, as a second close would.
    fn drain(&self) -> io::Result<()> {
        // The kernel's `struct inotify_event` header: wd (i32), mask (u32), cookie (u32),
        // len (u32), then `len` bytes of name.
        const EVENT_HEADER: usize = 16;
        let mut buffer = [0u8; 4096];
        loop {
            let length = match rustix::io::read(self.inotify.get_ref(), &mut buffer[..]) {
                Ok(length) => length,
                Err(Errno::AGAIN) => return Ok(()),
                Err(Errno::INTR) => continue,
                Err(error) => {
                    self.break_all();
                    return Err(error.into());
                }
            };
            let mut offset = 0;
            while offset + EVENT_HEADER <= length {
                let field = |at: usize| {
                    let start = offset + at;
                    buffer
                        .get(start..start + 4)
                        .and_then(|bytes| bytes.try_into().ok())
                        .map_or(0, u32::from_ne_bytes)
                };
                let mask = inotify::ReadFlags::from_bits_retain(field(4));
                if mask.contains(inotify::ReadFlags::QUEUE_OVERFLOW) {
                    self.count_everywhere(2);
                } else if mask.contains(inotify::ReadFlags::CLOSE_WRITE) {
                    self.count(field(0) as i32);
                }
                offset += EVENT_HEADER + field(12) as usize;
            }
        }
    }

    fn count(&self, watch: i32) {
        let woken = self.watches.borrow_mut().get_mut(&watch).and_then(|seen| {
            seen.closes += 1;
            seen.waiting.take()
        });
        if let Some(task) = woken {
            task.wake();
        }
    }

    /// Counts `closes` for every watch and wakes every waiting task.
    fn count_everywhere(&self, closes: u32) {
        let woken: Vec<Waker> = self
            .watches
            .borrow_mut()
            .values_mut()
            .filter_map(|seen| {
                seen.closes += closes;
                seen.waiting.take()
            })
            .collect();
        woken.into_iter().for_each(Waker::wake);
    }

    fn break_all(&self) {
        self.broken.set(true);
        self.count_everywhere(0);
    }
}

/// The instance's reader: drains the queue whenever it is readable, for as long as the event
/// loop runs (the instance is the thread's, so it lives as long).
async fn read_forever(instance: Rc<Instance>) {
    loop {
        match instance.inotify.readable().await {
            Ok(mut ready) => {
                if instance.drain().is_err() {
                    return;
                }
                ready.clear_ready();
            }
            Err(_) => {
                instance.break_all();
                return;
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
    /// of watches; the caller then goes without. Call it on an event loop (an actix arbiter):
    /// the thread's first call spawns the reader task there.
    pub fn new(path: &Path) -> io::Result<CloseWatch> {
        let instance = INSTANCE
            .with(Clone::clone)
            .filter(|instance| !instance.broken.get())
            .ok_or_else(|| io::Error::other("inotify is unavailable"))?;
        let watch = inotify::add_watch(
            instance.inotify.get_ref(),
            path,
            inotify::WatchFlags::CLOSE_WRITE,
        )?;
        // A descriptor is new for each watch (the kernel hands them out in turn), so no count
        // is inherited from an earlier file.
        instance.watches.borrow_mut().insert(watch, Seen::default());
        Ok(CloseWatch { instance, watch })
    }

    /// Resolves once a close-after-write of the file has been reported; fails if the
    /// instance can no longer read events.
    pub async fn closed(&self) -> io::Result<()> {
        poll_fn(|context| {
            if self.instance.broken.get() {
                return Poll::Ready(Err(io::Error::other("inotify events cannot be read")));
            }
            let mut watches = self.instance.watches.borrow_mut();
            let Some(seen) = watches.get_mut(&self.watch) else {
                return Poll::Ready(Err(io::Error::other("the watch is gone")));
            };
            if seen.closes > 0 {
                return Poll::Ready(Ok(()));
            }
            seen.waiting = Some(context.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// How many closes-after-write of the file have been reported so far, queued ones too
    /// (read here, without waiting for the reader).
    pub fn closes(&self) -> u32 {
        // A failed read breaks every watch; `broken` then answers for it.
        let _ = self.instance.drain();
        if self.instance.broken.get() {
            return u32::MAX;
        }
        self.instance
            .watches
            .borrow()
            .get(&self.watch)
            .map_or(0, |seen| seen.closes)
    }

    /// Whether the file has been closed after writing at least once (or the watch broke:
    /// either way, an early path under way will finish without waiting).
    pub fn seen(&self) -> bool {
        self.closes() > 0
    }
}

impl Drop for CloseWatch {
    fn drop(&mut self) {
        self.instance.watches.borrow_mut().remove(&self.watch);
        // Fails harmlessly when the kernel already removed the watch (the file was deleted).
        let _ = inotify::remove_watch(self.instance.inotify.get_ref(), self.watch);
    }
}

#[cfg(test)]
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

    /// Two files, each with a watch.
    fn watched_pair() -> [(tempfile::NamedTempFile, CloseWatch); 2] {
        [(), ()].map(|()| {
            let file = tempfile::NamedTempFile::new().unwrap();
            let watch = CloseWatch::new(file.path()).unwrap();
            (file, watch)
        })
    }

    #[actix_rt::test]
    async fn closes_after_writing_are_reported_and_counted_per_file() {
        let [(first, watch), (_second, other)] = watched_pair();
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
    }

    #[actix_rt::test]
    async fn a_close_that_another_watch_read_still_wakes_its_own() {
        let [(first, watch), (_second, other)] = watched_pair();
        // A task waiting for the first file's close, polled again only when woken.
        let waiting = tokio::task::spawn_local(async move { watch.closed().await });
        tokio::task::yield_now().await;
        std::fs::OpenOptions::new()
            .write(true)
            .open(first.path())
            .unwrap();
        // The other watch reads the queue first, and with it the first file's close.
        assert_eq!(other.closes(), 0);
        match tokio::time::timeout(Duration::from_secs(2), waiting).await {
            Ok(closed) => closed.unwrap().unwrap(),
            Err(_) => panic!("the close was read by another watch and never reported"),
        }
    }
}
