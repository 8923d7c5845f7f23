//! Finding and killing the processes a target left outside its process group.
//!
//! Every target carries [`MARKER_VAR`](super::MARKER_VAR) in its environment,
//! inherited by all its descendants. When a target stops, a process that
//! carries its marker and is not in its (killed) group escaped it
//! (`setsid`, `setpgid`); the harness kills it and says so. The killed
//! group's own members that end up our children are reaped too
//! ([`reap_group_soon`]).
//!
//! This runs at every target's stop, with up to `--jobs` targets alive at
//! once, so it reads as little of `/proc` as it can: the listing starts at
//! the stopping target's leader (an escapee was born after it), a member of
//! a live target's group costs one `getpgid` (it has not left its group),
//! and only the rest have their `stat`, and our descendants their
//! environment, read. Usually that is nothing at all.

use super::{live_group_ids, MARKER_VAR};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Processes killed because a target left them behind, over the run.
static LEFT_BEHIND: AtomicUsize = AtomicUsize::new(0);

/// How many processes targets left behind (and the harness killed) so far.
pub fn left_behind_total() -> usize {
    LEFT_BEHIND.load(Ordering::SeqCst)
}

/// Kill every live process whose environment carries a marker starting with
/// `marker` and that is not in `group` (the group is killed as a whole);
/// reap those that were re-parented to us. Returns "pid N (`command`)" for each.
///
/// With a `group` (one target stopping) only processes that can have left
/// it are read for the marker: those born since its leader, outside every
/// live target's group, and our descendants (the harness is a subreaper, so
/// an escapee's line of parents ends here). Without one (`kill_all`) every
/// process is read.
pub(super) fn sweep(marker: &str, group: Option<i32>) -> Vec<String> {
    let needle = format!("{MARKER_VAR}={marker}");
    let me = std::process::id() as i32;
    let live = live_group_ids();
    // pid -> (ppid, pgrp, zombie?, command).
    let mut procs = HashMap::new();
    let mut read = |pid: i32| {
        // Not read: ourselves, live targets' leaders (our children, in their
        // own groups), and, when one target stops, members of live groups.
        if pid == me || live.contains(&pid) {
            return;
        }
        if group.is_some() {
            // SAFETY: plain syscall; any pid is fine.
            match unsafe { libc::getpgid(pid) } {
                -1 if std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) => return,
                pg if live.contains(&pg) => return,
                _ => {}
            }
        }
        if let Some(p) = read_stat(pid) {
            procs.insert(pid, p);
        }
    };
    let ranges = match group.map(|g| (g, latest_pid())) {
        Some((leader, Some(last))) => born_since(leader, last),
        _ => vec![(1, None)],
    };
    for (from, to) in ranges {
        list_pids(from, to, &mut read);
    }
    let ours = |mut pid: i32| {
        // Bounded: a pid cycle cannot happen, but a racing snapshot is odd.
        for _ in 0..procs.len() + 1 {
            match procs.get(&pid) {
                _ if pid == me || live.contains(&pid) => return true,
                Some((ppid, ..)) => pid = *ppid,
                // Not read (a group member, born before the leader, or gone
                // since the listing): perhaps ours, so read it; 0: the top.
                None => return pid != 0,
            }
        }
        false
    };
    let mut killed = vec![];
    for (&pid, (ppid, pgrp, zombie, name)) in &procs {
        if *zombie || group == Some(*pgrp) {
            continue;
        }
        if group.is_some() && (live.contains(pgrp) || !ours(pid)) {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let marked = env.split(|b| *b == 0).any(|v| {
            let v = String::from_utf8_lossy(v);
            v.starts_with(&needle) && (marker.ends_with('.') || v.len() == needle.len())
        });
        if !marked {
            continue;
        }
        // SAFETY: plain syscalls on a pid we just found carrying our marker.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        killed.push(format!("pid {pid} (`{name}`)"));
        if *ppid == me {
            reap_soon(pid);
        }
    }
    killed.sort();
    LEFT_BEHIND.fetch_add(killed.len(), Ordering::SeqCst);
    killed
}

/// (ppid, pgrp, zombie?, command) from `/proc/<pid>/stat`.
fn read_stat(pid: i32) -> Option<(i32, i32, bool, String)> {
    // One read into a stack buffer: `stat` is a few hundred bytes.
    let mut buf = [0u8; 1024];
    let mut f = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let n = std::io::Read::read(&mut f, &mut buf).ok()?;
    let stat = String::from_utf8_lossy(&buf[..n]);
    // Fields after the parenthesised command: state ppid pgrp ...
    let (head, rest) = stat.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let pgrp = f.get(2)?.parse().ok()?;
    let name = head.split_once('(').map_or("?", |(_, n)| n).to_string();
    Some((ppid, pgrp, f[0] == "Z", name))
}

/// The pids (ranges `from..=to`, `None`: to the end) of processes born
/// after `leader`, `last` being the latest pid handed out: the counter
/// wraps at `pid_max`.
fn born_since(leader: i32, last: i32) -> Vec<(i32, Option<i32>)> {
    if last >= leader {
        vec![(leader + 1, Some(last))]
    } else {
        vec![(leader + 1, None), (1, Some(last))]
    }
}

/// The latest pid handed out (`/proc/loadavg`'s fifth field). Pids are
/// handed out in increasing order, wrapping at `pid_max`.
fn latest_pid() -> Option<i32> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().nth(4)?.parse().ok()
}

/// Where procfs lists process `n` in `/proc`: directory position
/// `TGID_OFFSET + n` (fs/proc/base.c). Seeking there skips older processes.
const TGID_OFFSET: libc::c_long = 258;

/// Does seeking `/proc` to `TGID_OFFSET + n` start the listing at process
/// `n` on this kernel? Checked once with our own pid, which must come first;
/// if not, listings start at the top and skip older pids one by one.
fn seek_works() -> bool {
    static WORKS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WORKS.get_or_init(|| {
        let me = std::process::id() as i32;
        let mut first = None;
        if let Some(d) = ProcDir::open(me) {
            d.each(|pid| {
                first = Some(pid);
                false
            });
        }
        first == Some(me)
    })
}

/// Call `f` with each process id in `/proc` from `from` up to `to`
/// (inclusive), in increasing order.
fn list_pids(from: i32, to: Option<i32>, mut f: impl FnMut(i32)) {
    let start = if seek_works() { from } else { 0 };
    if let Some(dir) = ProcDir::open(start) {
        dir.each(|pid| {
            if to.is_some_and(|t| pid > t) {
                return false;
            }
            if pid >= from {
                f(pid);
            }
            true
        });
    }
}

/// `/proc`, opened for listing from one process on.
struct ProcDir(*mut libc::DIR);

impl ProcDir {
    /// `/proc`, positioned at process `from` (0: the whole listing).
    fn open(from: i32) -> Option<ProcDir> {
        // SAFETY: a NUL-terminated path; the result is checked for NULL.
        let dir = unsafe { libc::opendir(c"/proc".as_ptr()) };
        if dir.is_null() {
            return None;
        }
        if from > 0 {
            // SAFETY: `dir` is an open directory stream.
            unsafe { libc::seekdir(dir, TGID_OFFSET + libc::c_long::from(from)) };
        }
        Some(ProcDir(dir))
    }

    /// Each numeric entry (a process id), until `f` returns false.
    fn each(self, mut f: impl FnMut(i32) -> bool) {
        loop {
            // SAFETY: the stream is open and used by this thread only; the
            // entry is valid until the next readdir on it.
            let name = unsafe {
                let e = libc::readdir(self.0);
                if e.is_null() {
                    return;
                }
                std::ffi::CStr::from_ptr((*e).d_name.as_ptr())
            };
            let Some(pid) = name.to_str().ok().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            if !f(pid) {
                return;
            }
        }
    }
}

impl Drop for ProcDir {
    fn drop(&mut self) {
        // SAFETY: opened by opendir, closed once.
        unsafe { libc::closedir(self.0) };
    }
}

/// Reap, without blocking the caller, the members of the killed group
/// `pgid` that are or become our children: a member whose parent dies with
/// it first (a wrapper script's child) is re-parented to us, the subreaper,
/// and would stay a zombie until the harness exits. The leader is left to
/// its `Child`. Bounded: until the group is empty, at most 2 s.
pub(super) fn reap_group_soon(pgid: i32) {
    if pgid <= 1 {
        return;
    }
    std::thread::spawn(move || {
        for _ in 0..200 {
            // SAFETY: signal 0 only asks whether any process (a zombie
            // included) is still in the group.
            if unsafe { libc::kill(-pgid, 0) } == -1 {
                return;
            }
            loop {
                // SAFETY: `info` is a zeroed siginfo_t that waitid fills;
                // WNOWAIT only looks, so the leader is never taken from its
                // `Child`.
                let pid = unsafe {
                    let mut info: libc::siginfo_t = std::mem::zeroed();
                    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
                    if libc::waitid(libc::P_PGID, pgid as libc::id_t, &mut info, flags) != 0 {
                        break;
                    }
                    info.si_pid()
                };
                if pid == 0 || pid == pgid {
                    break;
                }
                let mut status = 0;
                // SAFETY: a child of ours in the killed group, not its leader.
                unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
}

/// Reap a killed orphan re-parented to us, without blocking the caller.
fn reap_soon(pid: i32) {
    std::thread::spawn(move || {
        for _ in 0..100 {
            let mut status = 0;
            // SAFETY: waits only for this pid, which is our child.
            if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } != 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_from_a_pid_starts_there_and_misses_nothing_after_it() {
        assert!(seek_works(), "seeking /proc to a pid does not work here");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let me = std::process::id() as i32;
        let kid = child.id() as i32;
        // The pid counter may have wrapped (at 32768 by default) between us
        // and our child: list from the lower of the two, which has the other
        // after it either way.
        let (lo, hi) = (me.min(kid), me.max(kid));
        let mut from_lo = vec![];
        list_pids(lo, None, |p| from_lo.push(p));
        let mut all = vec![];
        list_pids(1, None, |p| all.push(p));
        let mut upto = vec![];
        list_pids(1, Some(hi), |p| upto.push(p));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(from_lo.first(), Some(&lo));
        assert!(from_lo.windows(2).all(|w| w[0] < w[1]), "not ascending");
        // Processes may come and go between the listings; ours stay.
        for p in [me, kid] {
            assert!(
                from_lo.contains(&p),
                "{p} missing from the listing from {lo}"
            );
            assert!(all.contains(&p), "{p} missing from the whole listing");
        }
        assert_eq!(upto.last(), Some(&hi));
    }

    #[test]
    fn born_since_follows_pid_wraparound() {
        assert_eq!(born_since(100, 250), vec![(101, Some(250))]);
        assert_eq!(born_since(100, 100), vec![(101, Some(100))]);
        // The counter wrapped: the top of the range, then from the bottom.
        assert_eq!(
            born_since(4_000_000, 30),
            vec![(4_000_001, None), (1, Some(30))]
        );
    }

    #[test]
    fn the_latest_pid_is_known() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let kid = child.id() as i32;
        let last = latest_pid().expect("/proc/loadavg");
        child.wait().unwrap();
        // Our child was handed out at or before `last`, counting round a
        // wraparound of the counter: what was born since the pid before it
        // includes it.
        let ranges = born_since(kid - 1, last);
        assert!(
            ranges
                .iter()
                .any(|&(from, to)| kid >= from && to.is_none_or(|t| kid <= t)),
            "child {kid} not born since {} by the latest pid {last}",
            kid - 1
        );
    }
}
