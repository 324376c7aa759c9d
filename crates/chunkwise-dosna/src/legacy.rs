//! Leftovers of earlier versions: hidden `.NAME.creating-PID-N` / `.NAME.deleting-PID-N`
//! directories beside the datasets, removed when their process no longer runs. Today's working
//! entries are swept by `chunkwise::store::support::sweep_dead`.

use std::fs;
use std::path::Path;

/// Removes the leftovers of earlier versions whose process does not run. Best effort.
pub(super) fn sweep_legacy(root: &Path) {
    if let Ok(entries) = fs::read_dir(root) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = legacy_owner(&name) {
                if !chunkwise::store::support::running(pid) {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
    }
}

/// The pid in a hidden `.NAME.creating-PID-N` or `.NAME.deleting-PID-N` name.
fn legacy_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest
        .rsplit_once(".creating-")
        .or_else(|| rest.rsplit_once(".deleting-"))?;
    let (pid, n) = tail.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_names_say_their_owner_and_dead_ones_are_swept() {
        assert_eq!(legacy_owner(".vol.creating-123-4"), Some(123));
        assert_eq!(legacy_owner(".vol.deleting-77-0"), Some(77));
        assert_eq!(legacy_owner("vol.creating-1-2"), None);
        assert_eq!(legacy_owner(".vol.h5"), None);
        let root = tempfile::tempdir().unwrap();
        let legacy = root.path().join(".vol.deleting-4194304-0");
        let live = root
            .path()
            .join(format!(".vol.creating-{}-0", std::process::id()));
        fs::create_dir_all(&legacy).unwrap();
        fs::create_dir_all(&live).unwrap();
        sweep_legacy(root.path());
        assert!(!legacy.exists() && live.exists());
    }
}
