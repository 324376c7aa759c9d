//! The build id: which build of gaussian-bench made a figure, as `<git commit>-<hash of the
//! binary>`. It is part of every cell's uid and recorded in result.h5, so cells of two builds
//! are never merged as one sweep, and a job that ran a snapshot can be told from one that ran a
//! later rebuild.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// This binary's build id (the binary is hashed once per process).
pub fn build_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let commit = env!("GAUSSIAN_BENCH_COMMIT");
        format!("{commit}-{}", binary_hash())
    })
}

/// The first 8 bytes of the SHA-256 of this process's executable, in hex; `unknown` when it
/// cannot be read.
fn binary_hash() -> String {
    let read = std::env::current_exe().and_then(std::fs::File::open);
    let Ok(mut file) = read else {
        return "unknown".to_string();
    };
    let mut hasher = Sha256::new();
    if std::io::copy(&mut file, &mut hasher).is_err() {
        return "unknown".to_string();
    }
    hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
