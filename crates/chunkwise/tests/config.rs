//! Configuration: defaults, file, environment; sources; every bad value refused with its key,
//! value and origin; the budget as max_memory × memory_usage.

use std::path::Path;

use chunkwise::config::{Config, Source};
use chunkwise::{Error, Partition};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("chunkwise.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn defaults_then_file_then_environment() {
    let defaults = Config::load_from(None, env(&[])).unwrap();
    assert_eq!(defaults.memory_usage, 0.9);
    assert_eq!(defaults.max_memory, None);
    assert_eq!(defaults.read_ahead, 4);
    assert_eq!(defaults.min_slab, Some(256 << 10));
    assert_eq!(defaults.pipeline_options().min_slab_bytes, 256 << 10);
    assert!(!defaults.write_behind);
    assert!(!defaults.pipeline_options().write_behind);
    assert_eq!(defaults.partition, Partition::Cyclic);
    assert_eq!(defaults.stage_timeout, std::time::Duration::from_secs(600));
    assert_eq!(
        defaults.pipeline_options().stage_timeout,
        std::time::Duration::from_secs(600)
    );
    assert_eq!(
        defaults.peer_timeout,
        Some(std::time::Duration::from_secs(3600))
    );
    assert!(defaults.sources.values().all(|s| *s == Source::Default));

    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "resources:\n  max_memory: 4*1024*1024*1024\n  memory_usage: 0.5\nengine:\n  partition: block\n");
    let config = Config::load_from(
        Some(&file),
        env(&[
            ("CHUNKWISE_IO__READ_AHEAD", "8"),
            ("CHUNKWISE_IO__MIN_SLAB", "null"),
            ("CHUNKWISE_IO__WRITE_BEHIND", "true"),
            ("CHUNKWISE_RESOURCES__MEMORY_USAGE", "0.25"),
            ("CHUNKWISE_CONFIG", "x"),
            ("PATH", "/bin"),
        ]),
    )
    .unwrap();
    assert_eq!(config.max_memory, Some(4 << 30));
    assert_eq!(
        config.memory_usage, 0.25,
        "the environment wins over the file"
    );
    assert_eq!(config.partition, Partition::Block);
    assert_eq!(config.read_ahead, 8);
    assert_eq!(config.min_slab, None, "null: chunks are never cut");
    let pipeline = config.pipeline_options();
    assert_eq!(
        (
            pipeline.read_ahead,
            pipeline.min_slab_bytes,
            pipeline.write_behind
        ),
        (8, u64::MAX, true)
    );
    assert_eq!(
        config.sources["resources.max_memory"],
        Source::File(file.clone())
    );
    assert_eq!(
        config.sources["io.read_ahead"],
        Source::Env("CHUNKWISE_IO__READ_AHEAD".into())
    );
    assert_eq!(config.sources["engine.threads"], Source::Default);
    assert_eq!(config.budget_bytes().unwrap(), 1 << 30);
    let shown = config.show();
    assert!(
        shown.contains("resources.max_memory")
            && shown.contains(&format!("(file {})", file.display())),
        "{shown}"
    );
    assert!(
        shown.contains("(environment CHUNKWISE_IO__READ_AHEAD)"),
        "{shown}"
    );
}

#[test]
fn the_budget_follows_both_values_without_drift() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "resources:\n  max_memory: 1GiB\n");
    let half = Config::load_from(
        Some(&file),
        env(&[("CHUNKWISE_RESOURCES__MEMORY_USAGE", "0.5")]),
    )
    .unwrap();
    assert_eq!(half.budget_bytes().unwrap(), 512 << 20);
    let full = Config::load_from(
        Some(&file),
        env(&[("CHUNKWISE_RESOURCES__MEMORY_USAGE", "1")]),
    )
    .unwrap();
    assert_eq!(full.budget_bytes().unwrap(), 1 << 30);
    // Without max_memory: the machine's memory.
    let machine = Config::load_from(None, env(&[])).unwrap();
    assert!(machine.max_memory_bytes().unwrap() > 1 << 28);

    // Ranks sharing a node: a set max_memory is each rank's; the machine's memory is shared.
    assert_eq!(half.budget_bytes_per_rank(4).unwrap(), 512 << 20);
    let total = machine.max_memory_bytes().unwrap() as f64 * machine.memory_usage;
    for ranks in [1u64, 2, 3] {
        let share = machine.budget_bytes_per_rank(ranks as usize).unwrap();
        assert!(
            (share as f64 * ranks as f64 - total).abs() <= ranks as f64,
            "{ranks} ranks: {share} each of {total}"
        );
    }
    assert_eq!(
        machine.budget_bytes_per_rank(0).unwrap(),
        machine.budget_bytes().unwrap()
    );
}

#[test]
fn bad_values_name_key_value_and_origin() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 13] = [
        (
            "io:\n  stage_timeout: 0\n",
            "io.stage_timeout = 0",
            "seconds > 0",
        ),
        (
            "engine:\n  peer_timeout: soon\n",
            "engine.peer_timeout = soon",
            "seconds > 0, or null",
        ),
        (
            "engine:\n  peer_timeout: -3\n",
            "engine.peer_timeout = -3",
            "seconds > 0, or null",
        ),
        (
            "resources:\n  memory_usage: 1.5\n",
            "resources.memory_usage = 1.5",
            "0 < memory_usage ≤ 1",
        ),
        (
            "resources:\n  memory_usage: 0\n",
            "resources.memory_usage = 0",
            "0 < memory_usage",
        ),
        (
            "resources:\n  max_memory: 4 GiBs\n",
            "resources.max_memory = 4 GiBs",
            "not a size",
        ),
        (
            "resources:\n  max_memory: -5\n",
            "resources.max_memory = -5",
            "positive number of bytes",
        ),
        (
            "resources:\n  max_memry: 1\n",
            "resources.max_memry = 1",
            "unknown key",
        ),
        ("engine:\n  threads: 0\n", "engine.threads = 0", "≥ 1"),
        (
            "engine:\n  partition: round\n",
            "engine.partition = round",
            "cyclic or block",
        ),
        ("io:\n  read_ahead: two\n", "io.read_ahead = two", "≥ 1"),
        ("io:\n  min_slab: lumps\n", "io.min_slab = lumps", "bytes"),
        (
            "io:\n  write_behind: 1\n",
            "io.write_behind = 1",
            "true or false",
        ),
    ];
    for (text, named, expected) in cases {
        let file = write(dir.path(), text);
        let error = Config::load_from(Some(&file), env(&[])).unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(named), "{message}");
        assert!(message.contains(expected), "{message}");
        assert!(message.contains(&file.display().to_string()), "{message}");
    }
    let error = Config::load_from(None, env(&[("CHUNKWISE_ENGINE__THRADS", "2")]))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("engine.thrads")
            && error.contains("CHUNKWISE_ENGINE__THRADS")
            && error.contains("unknown key"),
        "{error}"
    );
    let error = Config::load_from(None, env(&[("CHUNKWISE_RESOURCES__MAX_MEMORY", "lots")]))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("lots") && error.contains("environment CHUNKWISE_RESOURCES__MAX_MEMORY"),
        "{error}"
    );
    let file = write(dir.path(), "resources: [1, 2\n");
    assert!(Config::load_from(Some(&file), env(&[]))
        .unwrap_err()
        .to_string()
        .contains("valid YAML"));
    let missing = dir.path().join("nope.yaml");
    assert!(matches!(
        Config::load_from(Some(&missing), env(&[])),
        Err(Error::Io { .. })
    ));
}
