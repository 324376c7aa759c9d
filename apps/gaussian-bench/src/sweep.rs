//! The sweep: every (data size, chunk size) cell, `ntest` times load → 3D → 3×1D → delete, each
//! timed from a barrier to a barrier; verification, images and per-rank timers on the way.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use chunkwise::{
    Block, Boundary, Connection, Dataset, DatasetMeta, Element, Layout, Reduction, Selection,
    SliceItem, Store,
};

use chunkwise_ndimage::{
    gaussian_filter1d_dataset, gaussian_filter_dataset, gaussian_filter_into, FilterFloat,
};
use indicatif::ProgressBar;
use ndarray::Array2;

use crate::data;
use crate::images::{write_image, ColourScale};
use crate::options::Options;
use crate::results::Results;

/// Dataset names of one test.
struct Names {
    input: String,
    conv3d: String,
    conv1d: String,
    along_z: String,
    along_zy: String,
}

impl Names {
    fn new(ds: usize, cs: usize) -> Self {
        Names {
            input: format!("input_{ds}"),
            conv3d: format!("gaussian_3d_{ds}_{cs}"),
            conv1d: format!("gaussian_1d_{ds}_{cs}"),
            along_z: format!("gaussian_1d_{ds}_{cs}_z"),
            along_zy: format!("gaussian_1d_{ds}_{cs}_zy"),
        }
    }
}

/// Runs `f` on rank 0 only, giving its value there; every rank then agrees on the outcome
/// (which is a barrier too).
pub fn on_root<R>(conn: &Connection, f: impl FnOnce() -> Result<R>) -> Result<Option<R>> {
    let local = if conn.is_root() {
        f().map(Some)
    } else {
        Ok(None)
    };
    chunkwise_frontend::agree(conn, local)
}

impl Names {
    /// Every name.
    fn all(&self) -> [&str; 5] {
        [
            &self.input,
            &self.conv3d,
            &self.conv1d,
            &self.along_z,
            &self.along_zy,
        ]
    }
}

/// Refuses to start when the store holds a dataset of a name the sweep makes (and deletes):
/// such a dataset is a user's or an earlier run's, not this run's to overwrite or delete.
/// (Incomplete ones, left by an interrupted run, are replaced.)
fn check_names_free(conn: &Connection, data_sizes: &[usize], chunk_sizes: &[usize]) -> Result<()> {
    on_root(conn, || {
        let mut taken = Vec::new();
        for &ds in data_sizes {
            for &cs in chunk_sizes.iter().filter(|&&cs| cs <= ds) {
                for name in Names::new(ds, cs).all() {
                    if conn.has_dataset(name)? && !taken.iter().any(|t| t == name) {
                        taken.push(name.to_string());
                    }
                }
            }
        }
        if !taken.is_empty() {
            anyhow::bail!(
                "the store already holds {} that this sweep would overwrite and delete ({}); gaussian-bench only deletes datasets it made in this run: use another --store, or remove them first (chunkwise rm NAME)",
                if taken.len() == 1 { "a dataset" } else { "datasets" },
                taken.join(", ")
            );
        }
        Ok(())
    })?;
    Ok(())
}

/// Times `f` from a barrier to a barrier and gathers every rank's timers of it.
fn timed(
    conn: &Connection,
    f: impl FnOnce() -> Result<()>,
) -> Result<(f64, Option<Vec<[f64; 6]>>)> {
    conn.timers().reset();
    conn.engine().barrier()?;
    let started = Instant::now();
    f()?;
    conn.engine().barrier()?;
    let seconds = started.elapsed().as_secs_f64();
    let report = conn.timers().gather(conn.engine().as_ref())?;
    let per_rank = report.map(|report| {
        report
            .per_rank
            .iter()
            .map(|stats| {
                let get = |name: &str| stats.get(name).copied().unwrap_or_default();
                [
                    get("read").seconds,
                    get("compute").seconds,
                    get("write").seconds,
                    get("barrier").seconds,
                    get("read").bytes as f64,
                    get("write").bytes as f64,
                ]
            })
            .collect()
    });
    Ok((seconds, per_rank))
}

/// Max |a − b| of the elements of the dataset reduced and the same elements of `other`.
struct MaxDifference<'a> {
    other: &'a Dataset,
}

impl Reduction for MaxDifference<'_> {
    type State = f64;

    fn init(&self) -> f64 {
        0.0
    }

    fn fold(&self, max: &mut f64, block: &Block<'_>) -> chunkwise::Result<()> {
        let theirs = self.other.read_region_data(block.region)?;
        chunkwise::with_element_type!(block.values.dtype(), T => {
            let (Some(x), Some(y)) = (T::chunk_slice(block.values), T::chunk_slice(&theirs)) else {
                return Err(chunkwise::Error::DTypeMismatch {
                    context: format!("comparing with dataset \"{}\"", self.other.name()),
                    stored: theirs.dtype().to_string(),
                    requested: block.values.dtype().to_string(),
                });
            };
            *max = x
                .iter()
                .zip(y)
                .map(|(p, q)| (p.to_f64() - q.to_f64()).abs())
                .fold(*max, f64::max);
        });
        Ok(())
    }

    fn merge(&self, into: &mut f64, other: f64) {
        *into = into.max(other);
    }
}

/// Max |a − b| over two datasets of one shape (collective; the result on every rank).
fn max_difference(conn: &Connection, a: &str, b: &str) -> Result<f64> {
    let (a, b) = (conn.dataset(a)?, conn.dataset(b)?);
    Ok(a.reduce(&Selection::all(), &MaxDifference { other: &b })?)
}

impl Sweep<'_> {
    /// Max |3D result − gaussian_filter of the whole input| (on the calling rank).
    fn reference_difference<T: FilterFloat>(&self, names: &Names) -> Result<f64> {
        let conn = self.conn;
        let o = self.options;
        let budget = conn
            .memory_budget()
            .context("the connection has no memory budget")?;
        let input = conn.dataset(&names.input)?;
        let whole = input.read_in::<T>(budget, &Selection::all())?;
        let mut expected = budget.alloc_array::<T>(whole.shape())?;
        gaussian_filter_into(
            whole.view(),
            expected.view_mut(),
            o.sigma,
            self.mode,
            o.truncate,
        )?;
        drop(whole);
        let got = conn.dataset(&names.conv3d)?;
        let expected = expected.view();
        let mut max = 0.0f64;
        for chunk in got.layout().chunk_indices() {
            let values = got.chunk(&chunk)?.read::<T>()?;
            let bounds = got.layout().chunk_bounds(&chunk);
            let want = bounds.view_of(&expected);
            anyhow::ensure!(
                values.shape() == want.shape(),
                "chunk {chunk:?} of {} has shape {:?}, expected {:?}",
                names.conv3d,
                values.shape(),
                want.shape()
            );
            max = values
                .iter()
                .zip(want.iter())
                .map(|(a, b)| (a.to_f64() - b.to_f64()).abs())
                .fold(max, f64::max);
        }
        Ok(max)
    }
}

fn centre_slice<T: FilterFloat>(conn: &Connection, name: &str, ds: usize) -> Result<Array2<f64>> {
    let selection = Selection::new([
        SliceItem::Index((ds / 2) as isize),
        SliceItem::full(),
        SliceItem::full(),
    ]);
    let slice = conn.dataset(name)?.read::<T>(&selection)?;
    Ok(slice.mapv(|v| v.to_f64()).into_dimensionality()?)
}

/// Everything a sweep needs to know.
pub struct Sweep<'a> {
    pub options: &'a Options,
    pub conn: &'a Connection,
    pub mode: Boundary,
    pub progress: Option<ProgressBar>,
    /// With --shard: the store that writes new arrays as shards of inner chunks of the given
    /// side (a cell's chunk size).
    pub sharded_store: Option<&'a dyn Fn(usize) -> Result<Arc<dyn Store>>>,
}

impl Sweep<'_> {
    /// Runs the sweep; the figures on rank 0 (`None` elsewhere).
    pub fn run<T: FilterFloat>(&self) -> Result<Option<Results>> {
        let o = self.options;
        let conn = self.conn;
        let ranks = conn.size();
        let mut results = Results::new(&o.data_sizes, &o.chunk_sizes, o.ntest, ranks);
        std::fs::create_dir_all(&o.out)
            .with_context(|| format!("cannot create {}", o.out.display()))?;
        check_names_free(conn, &o.data_sizes, &o.chunk_sizes)?;
        for (i, &ds) in o.data_sizes.iter().enumerate() {
            let last_cell = o.chunk_sizes.iter().rposition(|&cs| cs <= ds);
            for (j, &cs) in o.chunk_sizes.iter().enumerate() {
                if cs > ds {
                    continue;
                }
                let names = Names::new(ds, cs);
                // Sharded, a cell's datasets are written by a connection whose arrays are
                // shards of `side`³ holding the cell's chunks; everything else reads them as
                // any array.
                let (cell_conn, side) = match (self.sharded_store, o.shard_side(ds, cs)) {
                    (Some(store), Some(side)) => (conn.with_store(store(cs)?)?, side),
                    _ => (conn.clone(), cs),
                };
                for t in 0..o.ntest {
                    let last_test = t + 1 == o.ntest;
                    let meta = DatasetMeta::new(
                        Layout::new(&[ds; 3], &[side; 3])?,
                        T::DTYPE,
                        T::ZERO.to_scalar(),
                    )?;

                    let (load, load_timers) = timed(conn, || {
                        let input = cell_conn.begin_dataset(&names.input, meta.clone())?;
                        input.load_blocks_with::<T, _>(|bounds| {
                            Ok(data::block::<T>(o.seed, ds, bounds))
                        })?;
                        input.finish()?;
                        Ok(())
                    })?;
                    let input = cell_conn.dataset(&names.input)?;
                    let (conv3d, conv3d_timers) = timed(conn, || {
                        gaussian_filter_dataset(
                            &input,
                            &names.conv3d,
                            o.sigma,
                            self.mode,
                            o.truncate,
                        )?;
                        Ok(())
                    })?;
                    let (conv1d, conv1d_timers) = timed(conn, || {
                        let z = gaussian_filter1d_dataset(
                            &input,
                            &names.along_z,
                            o.sigma,
                            0,
                            self.mode,
                            o.truncate,
                        )?;
                        let zy = gaussian_filter1d_dataset(
                            &z,
                            &names.along_zy,
                            o.sigma,
                            1,
                            self.mode,
                            o.truncate,
                        )?;
                        gaussian_filter1d_dataset(
                            &zy,
                            &names.conv1d,
                            o.sigma,
                            2,
                            self.mode,
                            o.truncate,
                        )?;
                        Ok(())
                    })?;
                    if last_test {
                        self.verify::<T>(&names, ds, cs, i, j, &mut results)?;
                    }
                    let keep_outputs = o.keep && last_test;
                    let keep_input = keep_outputs && Some(j) == last_cell;
                    let (delete, _) = timed(conn, || {
                        for name in [&names.along_z, &names.along_zy] {
                            conn.delete_dataset(name)?;
                        }
                        if !keep_outputs {
                            conn.delete_dataset(&names.conv3d)?;
                            conn.delete_dataset(&names.conv1d)?;
                        }
                        if !keep_input {
                            conn.delete_dataset(&names.input)?;
                        }
                        Ok(())
                    })?;

                    for (k, seconds) in [load, conv3d, conv1d].into_iter().enumerate() {
                        results.times[[i, j, k, t]] = seconds as f32;
                    }
                    results.delete[[i, j, t]] = delete as f32;
                    for (phase, per_rank) in [load_timers, conv3d_timers, conv1d_timers]
                        .into_iter()
                        .enumerate()
                    {
                        for (rank, figures) in per_rank.unwrap_or_default().iter().enumerate() {
                            for (f, &value) in figures.iter().enumerate() {
                                results.timers[[i, j, t, phase, rank, f]] = value;
                            }
                        }
                    }
                    if let Some(bar) = &self.progress {
                        bar.set_message(format!(
                            "data {ds}³, chunks {cs}³, test {}/{}",
                            t + 1,
                            o.ntest
                        ));
                        bar.inc(1);
                    }
                }
            }
        }
        Ok(conn.is_root().then_some(results))
    }

    /// The last test of a cell: 3D against 3×1D (always), against the in-memory filter of the
    /// whole array (data ≤ 128 or --verify), and the images of the centre slices.
    ///
    /// The reference lives in the connection's memory budget: the input and the filtered whole
    /// array go to memory-mapped temporary files when they do not fit, and the 3D result is
    /// compared with it chunk by chunk.
    fn verify<T: FilterFloat>(
        &self,
        names: &Names,
        ds: usize,
        cs: usize,
        i: usize,
        j: usize,
        results: &mut Results,
    ) -> Result<()> {
        let conn = self.conn;
        let o = self.options;
        results.verify[[i, j, 0]] = max_difference(conn, &names.conv3d, &names.conv1d)?;
        let ranks = conn.size();
        let reference = on_root(conn, || {
            let diff = if ds <= 128 || o.verify {
                self.reference_difference::<T>(names)?
            } else {
                f64::NAN
            };
            let input = centre_slice::<T>(conn, &names.input, ds)?;
            let conv3d = centre_slice::<T>(conn, &names.conv3d, ds)?;
            let conv1d = centre_slice::<T>(conn, &names.conv1d, ds)?;
            let tag = format!("{ranks}-{ds}-{cs}");
            let centre = ds / 2;
            let shared = ColourScale::joint(&[input.view(), conv3d.view(), conv1d.view()]);
            for (file, what, slice) in [
                ("input", "input", &input),
                ("conv3d", "3D Gaussian", &conv3d),
                ("conv3x1d", "three 1D Gaussians", &conv1d),
            ] {
                write_image(
                    &o.out.join(format!("{file}_{tag}.png")),
                    &format!("{what}, z = {centre} of {ds}³, chunks {cs}³"),
                    slice.view(),
                    shared,
                    None,
                )?;
            }
            let difference = &conv3d - &conv1d;
            let exact = difference.iter().all(|&v| v == 0.0);
            write_image(
                &o.out.join(format!("diff_{tag}.png")),
                &format!("3D − three 1D, z = {centre} of {ds}³, chunks {cs}³"),
                difference.view(),
                ColourScale::about_zero(difference.view()),
                exact.then_some("0 everywhere: equal to the bit"),
            )?;
            Ok(diff)
        })?;
        if let Some(diff) = reference {
            results.verify[[i, j, 1]] = diff;
        }
        Ok(())
    }
}
