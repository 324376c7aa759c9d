//! Named, thread-safe timers and byte counters, and their gathering across ranks.
//!
//! Collective operations record `read`, `compute`, `write` (summed over the worker threads of a
//! rank: busy time, not wall time) and `barrier` (wall time a rank waited for the others). A
//! report gathers every rank's figures to rank 0 and gives min/mean/max per name over ranks.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::engine::Engine;
use crate::error::{Error, Result};

/// The figures of one timer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TimerStat {
    /// Intervals recorded.
    pub count: u64,
    /// Their total length in seconds.
    pub seconds: f64,
    /// Bytes moved during them (0 when not counted).
    pub bytes: u64,
}

/// A set of named timers, shared by the threads of one rank.
#[derive(Debug, Default)]
pub struct Timers {
    stats: Mutex<BTreeMap<String, TimerStat>>,
}

/// Records its interval when dropped.
#[derive(Debug)]
pub struct TimerGuard<'a> {
    timers: &'a Timers,
    name: &'a str,
    started: Instant,
    bytes: u64,
}

impl TimerGuard<'_> {
    /// Adds bytes moved during this interval.
    pub fn add_bytes(&mut self, bytes: u64) {
        self.bytes += bytes;
    }
}

impl Drop for TimerGuard<'_> {
    fn drop(&mut self) {
        self.timers
            .record(self.name, self.started.elapsed(), self.bytes);
    }
}

impl Timers {
    /// No timers yet.
    pub fn new() -> Self {
        Timers::default()
    }

    /// Adds one interval (and bytes) to `name`.
    pub fn record(&self, name: &str, elapsed: Duration, bytes: u64) {
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        let stat = stats.entry(name.to_string()).or_default();
        stat.count += 1;
        stat.seconds += elapsed.as_secs_f64();
        stat.bytes += bytes;
    }

    /// Starts an interval of `name`, recorded when the guard drops.
    pub fn start<'a>(&'a self, name: &'a str) -> TimerGuard<'a> {
        TimerGuard {
            timers: self,
            name,
            started: Instant::now(),
            bytes: 0,
        }
    }

    /// Times `f` as one interval of `name`.
    pub fn time<R>(&self, name: &str, f: impl FnOnce() -> R) -> R {
        let _guard = self.start(name);
        f()
    }

    /// The figures so far.
    pub fn snapshot(&self) -> BTreeMap<String, TimerStat> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Forgets everything recorded.
    pub fn reset(&self) {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn encode(&self) -> Vec<u8> {
        let mut text = String::new();
        for (name, stat) in self.snapshot() {
            text.push_str(&format!(
                "{name}\t{}\t{}\t{}\n",
                stat.count, stat.seconds, stat.bytes
            ));
        }
        text.into_bytes()
    }

    fn decode(bytes: &[u8]) -> Result<BTreeMap<String, TimerStat>> {
        let bad = |line: &str| Error::Communication(format!("malformed timer line {line:?}"));
        let text = String::from_utf8_lossy(bytes);
        let mut stats = BTreeMap::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            let [name, count, seconds, bytes] = fields[..] else {
                return Err(bad(line));
            };
            let stat = TimerStat {
                count: count.parse().map_err(|_| bad(line))?,
                seconds: seconds.parse().map_err(|_| bad(line))?,
                bytes: bytes.parse().map_err(|_| bad(line))?,
            };
            stats.insert(name.to_string(), stat);
        }
        Ok(stats)
    }

    /// Gathers every rank's timers to rank 0 (collective). Returns the report on rank 0 and
    /// `None` elsewhere.
    ///
    /// # Errors
    /// A communication error.
    pub fn gather(&self, engine: &dyn Engine) -> Result<Option<TimerReport>> {
        let Some(all) = engine.gather_bytes(self.encode())? else {
            return Ok(None);
        };
        let per_rank = all
            .iter()
            .map(|bytes| Timers::decode(bytes))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(TimerReport { per_rank }))
    }
}

/// Min, mean and max of one figure over ranks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub min: f64,
    pub mean: f64,
    pub max: f64,
}

/// Every rank's timers, gathered on rank 0.
#[derive(Debug, Clone, PartialEq)]
pub struct TimerReport {
    /// Index = rank.
    pub per_rank: Vec<BTreeMap<String, TimerStat>>,
}

impl TimerReport {
    /// All timer names seen on any rank, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .per_rank
            .iter()
            .flat_map(|m| m.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Seconds of `name` over ranks (a rank that never recorded it counts as 0).
    pub fn seconds(&self, name: &str) -> Spread {
        self.spread(|stats| stats.get(name).map_or(0.0, |s| s.seconds))
    }

    /// Bytes of `name` over ranks.
    pub fn bytes(&self, name: &str) -> Spread {
        self.spread(|stats| stats.get(name).map_or(0.0, |s| s.bytes as f64))
    }

    fn spread(&self, value: impl Fn(&BTreeMap<String, TimerStat>) -> f64) -> Spread {
        let values: Vec<f64> = self.per_rank.iter().map(value).collect();
        let n = values.len().max(1) as f64;
        Spread {
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            mean: values.iter().sum::<f64>() / n,
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }

    /// A table: one row per timer with min/mean/max seconds over ranks, then per-rank seconds.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<10} {:>9} {:>9} {:>9}",
            "timer", "min s", "mean s", "max s"
        );
        for rank in 0..self.per_rank.len() {
            out.push_str(&format!(" {:>9}", format!("rank {rank}")));
        }
        out.push('\n');
        for name in self.names() {
            let s = self.seconds(&name);
            out.push_str(&format!(
                "{name:<10} {:>9.4} {:>9.4} {:>9.4}",
                s.min, s.mean, s.max
            ));
            for stats in &self.per_rank {
                out.push_str(&format!(
                    " {:>9.4}",
                    stats.get(&name).map_or(0.0, |s| s.seconds)
                ));
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ThreadsEngine;

    #[test]
    fn records_from_many_threads_and_reports() {
        let timers = Timers::new();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..25 {
                        let mut guard = timers.start("read");
                        guard.add_bytes(10);
                    }
                    timers.record("write", Duration::from_millis(2), 1);
                });
            }
        });
        let stats = timers.snapshot();
        assert_eq!(stats["read"].count, 100);
        assert_eq!(stats["read"].bytes, 1000);
        assert_eq!(stats["write"].count, 4);
        assert!((stats["write"].seconds - 0.008).abs() < 1e-9);

        let engine = ThreadsEngine::new(Some(2)).unwrap();
        let report = timers
            .gather(&engine)
            .unwrap()
            .expect("a single process is rank 0");
        assert_eq!(report.per_rank.len(), 1);
        assert_eq!(report.names(), vec!["read", "write"]);
        let spread = report.seconds("write");
        assert!((spread.min - 0.008).abs() < 1e-9 && (spread.max - 0.008).abs() < 1e-9);
        assert_eq!(report.bytes("read").mean, 1000.0);
        assert!(report.table().contains("rank 0"));
        timers.reset();
        assert!(timers.snapshot().is_empty());
    }

    #[test]
    fn spread_over_ranks() {
        let rank = |seconds: f64| {
            BTreeMap::from([(
                "compute".to_string(),
                TimerStat {
                    count: 1,
                    seconds,
                    bytes: 0,
                },
            )])
        };
        let report = TimerReport {
            per_rank: vec![rank(1.0), rank(3.0), BTreeMap::new()],
        };
        assert_eq!(
            report.seconds("compute"),
            Spread {
                min: 0.0,
                mean: 4.0 / 3.0,
                max: 3.0
            }
        );
    }
}
