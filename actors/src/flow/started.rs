//! When a compile began, by the file system's own clock, and whether a file's stamps are older
//! than that: git's "racily clean" rule. The start is read from the change time of a file the
//! flow creates just before the first read (the C family's scratch file, the rust family's
//! dep-info directory), so no skew between the system clock and the coarse clock the kernel
//! stamps files with matters. A change time (which nothing can set back, unlike the
//! modification time) or modification time at or after the start means the file may have
//! changed since. A file whose times have no fraction of a second is on a file system with
//! whole-second (FAT: two-second) times, where a later change could carry an earlier stamp:
//! two seconds of margin there. Network file systems stamp with the server's clock; their
//! skew is not covered.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Nanoseconds since the epoch, as the file system stamps files.
type Nanos = i128;

/// Margin for file systems that stamp whole seconds (two for FAT).
const COARSE_MARGIN: Nanos = 2_000_000_000;

/// Margin when the start comes from the system clock rather than a file's stamp: the kernel
/// stamps files with a clock up to one tick (at most 10 ms) behind it.
const TICK_MARGIN: Nanos = 20_000_000;

/// When a compile began reading, by the file system's clock where it could be had.
#[derive(Debug, Clone, Copy)]
pub struct Started(Nanos);

impl Started {
    /// The change time of `marker`, a file or directory just created (before anything is
    /// read), changed once more after its times were asked for; or, when it cannot be stat'ed,
    /// the system clock now less a tick. On a kernel with multigrain timestamps (Linux 6.13
    /// on), a change to a file whose times were asked for gets a fine-grained time and raises
    /// the floor every later coarse time starts from: so the start is later than any change
    /// made before it in the same tick (cargo hard-links an `.rlib` it just finished into
    /// `target/debug` right before starting the crates that need it, and that link moved the
    /// file's change time into the tick the marker was made in), and no later than any change
    /// made after it. Elsewhere the second change leaves the tick's time as it was. Asked once,
    /// right after the marker is made: each call changes it again.
    pub fn at(marker: &Path) -> Started {
        let fresh = || {
            let first = std::fs::metadata(marker).ok()?;
            let _ = std::fs::set_permissions(marker, first.permissions());
            let after = std::fs::metadata(marker).ok()?;
            Some(nanos(after.ctime(), after.ctime_nsec()))
        };
        Started(fresh().unwrap_or_else(|| now() - TICK_MARGIN))
    }
}

impl Started {
    /// Now, by the system clock less a tick.
    pub fn now() -> Started {
        Started(now() - TICK_MARGIN)
    }

    /// Now, by the clock the kernel stamps files with (`CLOCK_REALTIME_COARSE`, which its
    /// `current_time` reads; multigrain timestamps are never earlier): a change made from now
    /// on carries a time at or after it, with no tick of margin, so a file a build script
    /// wrote just before the compile still counts as settled. Elsewhere, `now`.
    pub fn file_clock_now() -> Started {
        #[cfg(target_os = "linux")]
        {
            let now = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
            Started(nanos(now.tv_sec, now.tv_nsec))
        }
        #[cfg(not(target_os = "linux"))]
        {
            Started::now()
        }
    }

    /// Now, by `at` of a marker made for it: on a kernel with multigrain timestamps a time
    /// later than any change made before (cargo's hard link of an `.rlib` it just finished,
    /// which `file_clock_now`'s coarse time can be earlier than), else the coarse clock's tick.
    /// For a compile about to begin (a file and three calls: a miss's cost, not a hit's).
    pub fn fresh() -> Started {
        match tempfile::Builder::new().prefix("sccache-start").tempfile() {
            Ok(marker) => Started::at(marker.path()),
            Err(_) => Started::file_clock_now(),
        }
    }

    /// Whether a file with `metadata` was last modified before the start: nothing has written
    /// it since (`safely_before`).
    pub fn modified_before(&self, metadata: &std::fs::Metadata) -> bool {
        self.safely_before(metadata.mtime(), metadata.mtime_nsec())
    }

    /// Whether a file (or directory) with `metadata` last changed safely before the start, by
    /// both its times: git's "racily clean" rule.
    pub fn settled_before(&self, metadata: &std::fs::Metadata) -> bool {
        self.safely_before(metadata.ctime(), metadata.ctime_nsec())
            && self.modified_before(metadata)
    }

    /// Whether an inode with `metadata` changed at or after the start by its change time (its
    /// contents, mode, links or name: a rename sets it).
    pub fn changed_since(&self, metadata: &std::fs::Metadata) -> bool {
        !self.safely_before(metadata.ctime(), metadata.ctime_nsec())
    }

    /// Whether a stamp is before the start; one with no fraction of a second (ext3, FAT's two
    /// seconds, which round a later change down) only when older by more than such a file
    /// system's tick (`COARSE_MARGIN`).
    fn safely_before(&self, seconds: i64, nanoseconds: i64) -> bool {
        let margin = if nanoseconds == 0 { COARSE_MARGIN } else { 0 };
        nanos(seconds, nanoseconds) < self.0.saturating_sub(margin)
    }
}

fn nanos(seconds: i64, nanoseconds: i64) -> Nanos {
    Nanos::from(seconds) * 1_000_000_000 + Nanos::from(nanoseconds)
}

fn now() -> Nanos {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => since.as_nanos() as Nanos,
        // A clock before 1970 makes every file look changed: nothing is stored.
        Err(_) => Nanos::MAX / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_the_file_clock_a_file_written_before_is_settled_and_one_written_after_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let before = dir.path().join("before.rs");
        std::fs::write(&before, "old").unwrap();
        // Past a clock tick (at most 10 ms).
        std::thread::sleep(std::time::Duration::from_millis(25));
        let started = Started::file_clock_now();
        assert!(started.settled_before(&std::fs::metadata(&before).unwrap()));
        let after = dir.path().join("after.rs");
        std::fs::write(&after, "new").unwrap();
        assert!(!started.settled_before(&std::fs::metadata(&after).unwrap()));
    }

    /// An output is one the compile wrote when it was modified after the start; with a
    /// whole-second stamp, unless older than the start by more than such a tick.
    #[test]
    fn an_output_modified_after_the_start_is_written_by_the_compile() {
        use std::time::{Duration, SystemTime, UNIX_EPOCH};
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join("stale.dwo");
        std::fs::write(&stale, "old").unwrap();
        std::thread::sleep(Duration::from_millis(25));
        let started = Started::fresh();
        assert!(started.modified_before(&std::fs::metadata(&stale).unwrap()));
        let written = dir.path().join("a.o");
        std::fs::write(&written, "new").unwrap();
        assert!(!started.modified_before(&std::fs::metadata(&written).unwrap()));
        // As a whole-second file system stamps them: this second, and ten seconds ago.
        let whole = |seconds_ago: u64| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            UNIX_EPOCH + Duration::from_secs(now - seconds_ago)
        };
        let file = std::fs::File::options().write(true).open(&written).unwrap();
        file.set_modified(whole(0)).unwrap();
        assert!(!started.modified_before(&file.metadata().unwrap()));
        file.set_modified(whole(10)).unwrap();
        assert!(started.modified_before(&file.metadata().unwrap()));
    }
}
