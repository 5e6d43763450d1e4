//! The compilers of a server that dies without a word (SIGKILL, the OOM killer). Each runs in
//! a process group of its own (`dispatcher`), which nothing from the server's end reaches once
//! it is gone: a compile it started would go on and write its outputs later, over what the
//! next build produced, with a newer time than the sources (make would take the stale object
//! as up to date).
//!
//! A watcher process, this same program started with `REAPER_VAR` set, is started with the
//! server and told each group as the dispatcher starts and reaps it, on a pipe that only the
//! server holds the writing end of. When that pipe closes (the server exited, however), the
//! watcher interrupts the groups left as a terminal's Ctrl-C would (the driver removes its
//! outputs), then kills what still runs two seconds later, and exits. A group is signalled only
//! while its leader is the process the watcher was told of (same start time in `/proc`), or,
//! its leader gone, while members are left in it (a process id stays in use as long as a group
//! is named by it), so a process id reused since is never touched. Writes to the pipe never block the server: one
//! that would is dropped (and that group left unwatched).

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::os::unix::io::AsFd;
use std::os::unix::process::CommandExt;
use std::sync::Mutex;
use std::time::Duration;

/// Set in the watcher's environment: this process is the watcher (`requested`, `run`).
pub const REAPER_VAR: &str = "SCCACHE_INTERNAL_REAPER";

/// How long the groups have after the interrupt before they are killed.
const GRACE: Duration = Duration::from_secs(2);

/// The server's end: the pipe to its watcher, if one could be started.
#[derive(Default)]
pub struct Reaper {
    pipe: Option<Mutex<std::fs::File>>,
}

impl Reaper {
    /// Starts the watcher (the program `set_program` named), or, if there is none or it
    /// cannot be started, a reaper that does nothing (logged): compiles are then not watched.
    pub fn start() -> Reaper {
        let Some(program) = PROGRAM.get() else {
            return Reaper::default();
        };
        match start_watcher(program) {
            Ok(pipe) => Reaper {
                pipe: Some(Mutex::new(pipe)),
            },
            Err(error) => {
                log::warn!("cannot start the compile watcher: {error}");
                Reaper::default()
            }
        }
    }

    /// The dispatcher started a process group led by `group`.
    pub fn started(&self, group: u32) {
        self.tell(b'+', group);
    }

    /// The group led by `group` was reaped (or abandoned to the kernel).
    pub fn ended(&self, group: u32) {
        self.tell(b'-', group);
    }

    fn tell(&self, what: u8, group: u32) {
        let Some(pipe) = &self.pipe else {
            return;
        };
        let line = format!("{}{group}\n", what as char);
        let mut pipe = match pipe.lock() {
            Ok(pipe) => pipe,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Non-blocking: a full pipe drops the line (one short write of a few bytes to a pipe
        // is whole or nothing).
        if let Err(error) = pipe.write_all(line.as_bytes()) {
            log::debug!("compile watcher not told of group {group}: {error}");
        }
    }
}

/// The program a watcher runs (`set_program`).
static PROGRAM: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Names the program that runs as the watcher (`requested`, `run`): the sccache binary, which
/// sets it before it runs a server (`/proc/self/exe`, the very image running, even replaced on
/// disk since). Without it (a test harness running a server in its own process) no watcher is
/// started.
pub fn set_program(program: std::path::PathBuf) {
    let _ = PROGRAM.set(program);
}

fn start_watcher(program: &std::path::Path) -> std::io::Result<std::fs::File> {
    let (reading, writing) = std::io::pipe()?;
    std::process::Command::new(program)
        // Nothing of the server's environment: it is no server (nor looks like one).
        .env_clear()
        .env(REAPER_VAR, "1")
        .stdin(reading)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // Its own group: a signal to the server's group is not one to the watcher.
        .process_group(0)
        .spawn()?;
    let writing = std::fs::File::from(std::os::fd::OwnedFd::from(writing));
    rustix::fs::fcntl_setfl(writing.as_fd(), rustix::fs::OFlags::NONBLOCK)?;
    Ok(writing)
}

/// Whether this process was started as a watcher.
pub fn requested() -> bool {
    std::env::var_os(REAPER_VAR).is_some()
}

/// The watcher: reads the groups from standard input until it closes, then interrupts those
/// left, and kills what remains after the grace period. Its exit code.
pub fn run() -> i32 {
    let mut groups: HashMap<u32, u64> = HashMap::new();
    let stdin = std::io::stdin();
    for line in stdin.lock().split(b'\n') {
        let Ok(line) = line else {
            break;
        };
        let Some((&what, group)) = line.split_first() else {
            continue;
        };
        let Some(group) = std::str::from_utf8(group).ok().and_then(|g| g.parse().ok()) else {
            continue;
        };
        match what {
            b'+' => {
                if let Some(start) = start_time(group) {
                    groups.insert(group, start);
                }
            }
            b'-' => {
                groups.remove(&group);
            }
            _ => {}
        }
    }
    if groups.is_empty() {
        return 0;
    }
    signal_groups(&groups, rustix::process::Signal::INT);
    std::thread::sleep(GRACE);
    signal_groups(&groups, rustix::process::Signal::KILL);
    0
}

/// Sends `signal` to each group that is still the one it was: its leader the process it was
/// (same start time), or, the leader gone, members left in it (a wrapper script's background
/// compiler). A process id stays in use while any group is named by it, so a group with members
/// and no leader is still that group.
fn signal_groups(groups: &HashMap<u32, u64>, signal: rustix::process::Signal) {
    for (&group, &start) in groups {
        let Some(pid) = i32::try_from(group)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            continue;
        };
        let same = match start_time(group) {
            Some(now) => now == start,
            None => rustix::process::test_kill_process_group(pid).is_ok(),
        };
        if same {
            let _ = rustix::process::kill_process_group(pid, signal);
        }
    }
}

/// When the process `pid` started (field 22 of `/proc/<pid>/stat`, in clock ticks since boot).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: fields after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_s_start_time_is_read_and_a_gone_one_has_none() {
        let own = start_time(std::process::id());
        assert!(own.is_some());
        assert_eq!(start_time(std::process::id()), own);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        assert_eq!(start_time(gone), None);
    }
}
