//! Chunk files written in parts: the parts go straight into the hidden file that is renamed
//! into place on commit, so a chunk written in parts costs no more I/O than one written whole,
//! and no chunk-sized buffer.

use std::fs::{self, File};
use std::path::PathBuf;
use std::sync::Arc;

use super::template::Template;
use chunkwise::dtype::ChunkData;
use chunkwise::error::{Error, Result};
use chunkwise::store::support::{check_part_dtype, Coverage};
use chunkwise::store::{ChunkWriter, DatasetMeta};
use chunkwise::with_chunk_data;

/// Where a chunk file being written goes.
pub(super) struct Place {
    /// The store's root (its lock file).
    pub(super) root: PathBuf,
    /// The chunk's flat index (its byte of the lock file).
    pub(super) flat: usize,
    /// Where the chunk file goes on commit.
    pub(super) path: PathBuf,
    /// The hidden file the parts go into.
    pub(super) temp: PathBuf,
}

/// A chunk file being written in parts through its template (see [`ChunkWriter`]).
pub(super) struct FileChunkWriter {
    name: String,
    meta: DatasetMeta,
    template: Arc<Template>,
    place: Place,
    file: File,
    coverage: Coverage,
    committed: bool,
}

impl FileChunkWriter {
    /// Writes the header into `file` (new, or a spare, at `place.temp`) and returns the writer
    /// that renames it to `place.path` on commit. On error the temporary file is removed.
    ///
    /// # Errors
    /// An I/O error naming `path`.
    pub(super) fn start(
        name: &str,
        meta: &DatasetMeta,
        chunk: &[usize],
        template: Arc<Template>,
        place: Place,
        file: File,
    ) -> Result<Self> {
        let writer = FileChunkWriter {
            name: name.to_string(),
            meta: meta.clone(),
            template,
            coverage: Coverage::new(
                format!(
                    "chunk {} of dataset \"{name}\"",
                    chunkwise::error::fmt_tuple(chunk)
                ),
                meta.layout.chunk_len(),
            ),
            place,
            file,
            committed: false,
        };
        // Dropped on error: the temporary file goes with it.
        writer
            .template
            .start(&writer.file)
            .map_err(|e| Error::io(&writer.place.path, e))?;
        Ok(writer)
    }
}

impl ChunkWriter for FileChunkWriter {
    fn write_part(&self, first: usize, part: &ChunkData) -> Result<()> {
        check_part_dtype(&self.name, &self.meta, part)?;
        self.coverage.claim(first, part.len())?;
        with_chunk_data!(part, values => self.template.write_part(&self.file, first, values))
            .map_err(|e| Error::io(&self.place.path, e))
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.coverage.check_complete()?;
        self.template
            .finish(&self.file)
            .map_err(|e| Error::io(&self.place.path, e))?;
        // On error the temporary file is removed there; nothing is left for drop to do.
        self.committed = true;
        let place = &self.place;
        super::rename_chunk_into_place(
            &place.root,
            &self.name,
            place.flat,
            &place.temp,
            &place.path,
        )
    }
}

impl Drop for FileChunkWriter {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.place.temp);
        }
    }
}
