//! Where a driver may persist things: a private directory per case, handed
//! to the driver as its cache, data, state and temp directories, and searched
//! for credential values once the case is over (§9.8.2: a client MUST NOT
//! cache `value` beyond the job; §14: not persisted beyond the job).
//!
//! Only what the driver writes through these variables is observable: a
//! client that keeps values in memory, or writes them elsewhere, is not
//! seen. The search is bounded so a driver that fills the directory cannot
//! stall the harness.

use crate::target::StateDir;
use std::path::Path;

/// The variables pointed at the case's directory, each at its own subdirectory.
pub const ENV: &[(&str, &str)] = &[
    ("XDG_CACHE_HOME", "cache"),
    ("XDG_DATA_HOME", "data"),
    ("XDG_STATE_HOME", "state"),
    ("TMPDIR", "tmp"),
];

/// Files and bytes read at most per case.
const MAX_FILES: usize = 2000;
const MAX_BYTES: u64 = 16 << 20;

/// A case's private directory (a [`StateDir`]: removed when dropped).
pub struct StateDirs {
    dir: StateDir,
}

impl StateDirs {
    pub fn create() -> std::io::Result<StateDirs> {
        let dir = StateDir::new()
            .ok_or_else(|| std::io::Error::other("cannot create a temporary directory"))?;
        for (_, sub) in ENV {
            std::fs::create_dir_all(dir.0.join(sub))?;
        }
        Ok(StateDirs { dir })
    }

    /// (variable, absolute path) pairs for the driver's environment.
    pub fn env(&self) -> Vec<(String, String)> {
        ENV.iter()
            .map(|(k, sub)| (k.to_string(), self.dir.0.join(sub).display().to_string()))
            .collect()
    }

    /// Files under the directory that contain one of `secrets`, named as
    /// `$VARIABLE/relative/path`. Never returns the values themselves.
    pub fn holding(&self, secrets: &[String]) -> Vec<String> {
        if secrets.is_empty() {
            return vec![];
        }
        let mut found = vec![];
        let (mut files, mut bytes) = (0usize, 0u64);
        for (var, sub) in ENV {
            let base = self.dir.0.join(sub);
            let mut stack = vec![base.clone()];
            while let Some(dir) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    // symlink_metadata: never follow a link out of the directory.
                    let Ok(meta) = std::fs::symlink_metadata(&path) else {
                        continue;
                    };
                    if meta.is_dir() {
                        stack.push(path);
                        continue;
                    }
                    if !meta.is_file() || files >= MAX_FILES || bytes >= MAX_BYTES {
                        continue;
                    }
                    files += 1;
                    let take = meta.len().min(MAX_BYTES - bytes);
                    bytes += take;
                    if contains_any(&path, take, secrets) {
                        found.push(format!("${var}/{}", rel(&path, &base)));
                    }
                }
            }
        }
        found.sort();
        found
    }
}

fn contains_any(path: &Path, take: u64, secrets: &[String]) -> bool {
    use std::io::Read;
    let mut buf = vec![];
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    if f.take(take).read_to_end(&mut buf).is_err() {
        return false;
    }
    let text = String::from_utf8_lossy(&buf);
    secrets.iter().any(|s| text.contains(s.as_str()))
}

fn rel(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_value_in_any_directory_and_cleans_up() {
        let d = StateDirs::create().unwrap();
        let env = d.env();
        let cache = &env.iter().find(|(k, _)| k == "XDG_CACHE_HOME").unwrap().1;
        std::fs::create_dir_all(Path::new(cache).join("sdk")).unwrap();
        std::fs::write(Path::new(cache).join("sdk/creds.json"), "{\"v\":\"sk-1\"}").unwrap();
        let tmp = &env.iter().find(|(k, _)| k == "TMPDIR").unwrap().1;
        std::fs::write(Path::new(tmp).join("other"), "nothing").unwrap();
        let secrets = vec!["sk-1".to_string()];
        assert_eq!(d.holding(&secrets), vec!["$XDG_CACHE_HOME/sdk/creds.json"]);
        assert!(d.holding(&["sk-2".to_string()]).is_empty());
        assert!(d.holding(&[]).is_empty());
        let root = d.dir.0.clone();
        drop(d);
        assert!(!root.exists());
    }
}
