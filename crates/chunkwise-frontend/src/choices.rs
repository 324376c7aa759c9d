//! Enumerated options the applications share, as clap value enums (so `--help` lists the
//! values and completions offer them).

use chunkwise::{Boundary, Partition};

/// How the mpi engine deals chunks to ranks (`--partition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PartitionKind {
    /// Chunk i goes to rank i % size.
    Cyclic,
    /// Each rank gets one contiguous run of chunks.
    Block,
}

impl From<PartitionKind> for Partition {
    fn from(kind: PartitionKind) -> Partition {
        match kind {
            PartitionKind::Cyclic => Partition::Cyclic,
            PartitionKind::Block => Partition::Block,
        }
    }
}

/// Values beyond the array, as scipy.ndimage names its modes (`--mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BoundaryMode {
    /// d c b a | a b c d | d c b a
    Reflect,
    /// d c b | a b c d | c b a
    Mirror,
    /// a a a | a b c d | d d d
    Nearest,
    /// k k k | a b c d | k k k (the constant of --cval)
    Constant,
    /// b c d | a b c d | a b c
    Wrap,
}

impl BoundaryMode {
    /// scipy's name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            BoundaryMode::Reflect => "reflect",
            BoundaryMode::Mirror => "mirror",
            BoundaryMode::Nearest => "nearest",
            BoundaryMode::Constant => "constant",
            BoundaryMode::Wrap => "wrap",
        }
    }

    /// The core's boundary, `cval` for `constant`.
    pub fn boundary(self, cval: f64) -> Boundary {
        match self {
            BoundaryMode::Reflect => Boundary::Reflect,
            BoundaryMode::Mirror => Boundary::Mirror,
            BoundaryMode::Nearest => Boundary::Nearest,
            BoundaryMode::Constant => Boundary::Constant(cval),
            BoundaryMode::Wrap => Boundary::Wrap,
        }
    }
}

impl std::fmt::Display for BoundaryMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_mode_is_the_core_boundary_of_its_name() {
        for mode in BoundaryMode::value_variants() {
            assert_eq!(
                mode.boundary(2.5),
                Boundary::parse(mode.as_str(), 2.5).unwrap(),
                "{mode}"
            );
        }
    }
}
