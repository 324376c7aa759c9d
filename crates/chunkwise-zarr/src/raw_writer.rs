//! Chunks of uncompressed arrays written in parts: the parts go straight into the temporary
//! file that is renamed into place on commit, as they are computed (still in the cache), with
//! no chunk-sized buffer; compressed and sharded chunks are encoded whole, so they are
//! gathered by the core's `BufferedChunkWriter`.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use chunkwise::store::support::{check_part_dtype, element_bytes, fmt_tuple, Coverage, WorkArea};
use chunkwise::store::{ChunkWriter, DatasetMeta};
use chunkwise::{with_chunk_data, ChunkData, Error, Result};

use crate::atomic_fs::make_below;

/// Puts a finished temporary file (first) in place of the chunk file (second), under the
/// chunk's lock.
pub(crate) type Publish<'a> = Box<dyn Fn(&Path, &Path) -> Result<()> + Send + Sync + 'a>;

/// A chunk file of an uncompressed array being written in parts (see [`ChunkWriter`]).
pub(crate) struct RawChunkWriter<'a> {
    name: &'a str,
    meta: &'a DatasetMeta,
    /// Takes the chunk's lock and renames the temporary file into place.
    publish: Publish<'a>,
    path: PathBuf,
    temp: PathBuf,
    file: File,
    coverage: Coverage,
    committed: bool,
}

impl<'a> RawChunkWriter<'a> {
    /// A writer of the chunk file at `path` (below the array's directory `base`), its parts in
    /// a new temporary file beside it tagged by `work`; `publish(temp, path)` puts it in place
    /// on commit.
    ///
    /// # Errors
    /// An I/O error naming `path`.
    pub(crate) fn start(
        name: &'a str,
        meta: &'a DatasetMeta,
        chunk: &[usize],
        (work, base, path): (&WorkArea, &Path, PathBuf),
        publish: Publish<'a>,
    ) -> Result<Self> {
        let parent = path.parent().unwrap_or(base);
        make_below(base, parent).map_err(|e| Error::io(&path, e))?;
        let temp = work
            .sibling(&path, "chunk")
            .map_err(|e| Error::io(&path, e))?;
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| Error::io(&path, e))?;
        Ok(RawChunkWriter {
            name,
            meta,
            publish,
            coverage: Coverage::new(
                format!("chunk {} of array \"{name}\"", fmt_tuple(chunk)),
                meta.layout.chunk_len(),
            ),
            path,
            temp,
            file,
            committed: false,
        })
    }
}

impl ChunkWriter for RawChunkWriter<'_> {
    fn write_part(&self, first: usize, part: &ChunkData) -> Result<()> {
        check_part_dtype(self.name, self.meta, part)?;
        self.coverage.claim(first, part.len())?;
        let offset = (first * self.meta.dtype.size()) as u64;
        with_chunk_data!(part, values => self.file.write_all_at(element_bytes(values), offset))
            .map_err(|e| Error::io(&self.path, e))
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.coverage.check_complete()?;
        // On error the temporary file is removed by drop.
        (self.publish)(&self.temp, &self.path)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for RawChunkWriter<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}
