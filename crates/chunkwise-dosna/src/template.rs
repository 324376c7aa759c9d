//! Chunk files read and written without the HDF5 library on the hot path.
//!
//! Every chunk file of a dataset is the same HDF5 file up to its elements: one contiguous dataset
//! `data` of the chunk shape and dtype, without timestamps, its storage allocated when it is
//! created. The library writes such a file once, the *template*; its bytes before the elements
//! (superblock, root group, the dataset's object header) are kept. A chunk is then written as
//! those bytes followed by its elements, and read by checking those bytes and reading the
//! elements at their offset.
//!
//! Why: the `hdf5` crate runs one HDF5 call at a time per process, and each chunk file costs the
//! library a file object and a metadata cache to set up and tear down. With thousands of small
//! chunks that dominated the run time, and it kept threads from reading and writing in parallel.
//!
//! Guarantees:
//! - a template is used only when the library wrote it twice with identical bytes, and the
//!   elements are the file's tail (file length = data offset + data bytes); otherwise the store
//!   goes through the library for that chunk shape and dtype;
//! - a file is read this way only when its length and every byte before the elements equal the
//!   template's, so it has the template's structure; any other file — written by DosNa, h5py,
//!   an earlier chunkwise, chunked or compressed — goes through the library;
//! - the files written are HDF5 files any HDF5 reader opens (the library wrote their header).

use std::fs::File;
use std::mem::MaybeUninit;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use hdf5::plist::dataset_create::{AllocTime, FillTime};

use chunkwise::dtype::{element_bytes, Element};
use chunkwise::store::support::{read_elements_at, read_scattered_at};

/// The bytes of a chunk file before its elements, for one chunk shape and dtype.
pub(super) struct Template {
    header: Vec<u8>,
    data_bytes: u64,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("header_bytes", &self.header.len())
            .field("data_bytes", &self.data_bytes)
            .finish()
    }
}

/// Writes `path` as a chunk file of `shape` through the library, elements unwritten; returns
/// the file's bytes before its elements, or `None` when the elements (`data_bytes`) are not the
/// rest of the file.
fn library_header<T: Element + hdf5::H5Type>(
    path: &Path,
    shape: &[usize],
    data_bytes: u64,
) -> hdf5::Result<Option<Vec<u8>>> {
    let offset = {
        let file = super::create_file(path)?;
        let dataset = file
            .new_dataset::<T>()
            .shape(shape.to_vec())
            .no_chunk()
            .alloc_time(Some(AllocTime::Early))
            .fill_time(FillTime::Never)
            .obj_track_times(false)
            .create(super::CHUNK_DATASET)?;
        let offset = dataset.offset();
        drop(dataset);
        file.close()?;
        offset
    };
    let Some(offset) = offset else {
        return Ok(None);
    };
    let bytes = std::fs::read(path).map_err(|e| hdf5::Error::from(e.to_string()))?;
    if bytes.len() as u64 != offset + data_bytes {
        return Ok(None);
    }
    Ok(Some(bytes[..offset as usize].to_vec()))
}

impl Template {
    /// Builds the template of chunks of `shape` and element type `T`, writing scratch files
    /// at paths `scratch` gives (removed again). `None` when the library's files do not fit
    /// the scheme, or `scratch` gives no path.
    pub(super) fn build<T: Element + hdf5::H5Type>(
        scratch: impl Fn() -> Option<PathBuf>,
        shape: &[usize],
    ) -> Option<Template> {
        let data_bytes = (shape.iter().product::<usize>() * std::mem::size_of::<T>()) as u64;
        let mut headers = Vec::with_capacity(2);
        for _ in 0..2 {
            let path = scratch()?;
            let header = library_header::<T>(&path, shape, data_bytes);
            let _ = std::fs::remove_file(&path);
            headers.push(header.ok().flatten()?);
        }
        if headers[0] != headers[1] {
            return None;
        }
        let header = headers.pop()?;
        Some(Template { header, data_bytes })
    }

    /// Bytes of a chunk file of this template.
    pub(super) fn file_bytes(&self) -> u64 {
        self.header.len() as u64 + self.data_bytes
    }

    /// `values` as bytes, if they are this template's number of elements.
    fn element_bytes<'a, T: Element>(&self, values: &'a [T]) -> std::io::Result<&'a [u8]> {
        let bytes = element_bytes(values);
        if bytes.len() as u64 != self.data_bytes {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} bytes of elements for a chunk file of {} bytes of elements",
                    bytes.len(),
                    self.data_bytes
                ),
            ));
        }
        Ok(bytes)
    }

    /// Writes a chunk file at `path` (created, never overwritten): the header, then `values`.
    /// The store writes through [`Template::write_over`] (a spare or a new file); this form is
    /// for tests.
    ///
    /// # Errors
    /// Any I/O error, and `InvalidInput` when `values` is not the template's size.
    #[cfg(test)]
    pub(super) fn write<T: Element>(&self, path: &Path, values: &[T]) -> std::io::Result<()> {
        let bytes = self.element_bytes(values)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        file.write_all_at(&self.header, 0)?;
        file.write_all_at(bytes, self.header.len() as u64)
    }

    /// Writes a chunk file over `file`, whatever it held: the header, `values`, and the length
    /// (a longer file is cut), so no byte of its old content remains.
    ///
    /// # Errors
    /// Any I/O error, and `InvalidInput` when `values` is not the template's size.
    pub(super) fn write_over<T: Element>(&self, file: &File, values: &[T]) -> std::io::Result<()> {
        let bytes = self.element_bytes(values)?;
        self.start(file)?;
        file.write_all_at(bytes, self.header.len() as u64)?;
        self.finish(file)
    }

    /// Writes the header of a chunk file into `file` (new, or a spare whatever it holds): with
    /// [`Template::write_part`] for every element and [`Template::finish`], the same file as
    /// [`Template::write`] makes.
    ///
    /// # Errors
    /// Any I/O error.
    pub(super) fn start(&self, file: &File) -> std::io::Result<()> {
        file.write_all_at(&self.header, 0)
    }

    /// Writes `values` as elements `first..` of the chunk file `file`.
    ///
    /// # Errors
    /// Any I/O error, and `InvalidInput` when the elements go past the chunk's.
    pub(super) fn write_part<T: Element>(
        &self,
        file: &File,
        first: usize,
        values: &[T],
    ) -> std::io::Result<()> {
        let bytes = element_bytes(values);
        let offset = (first * std::mem::size_of::<T>()) as u64;
        if offset + bytes.len() as u64 > self.data_bytes {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "elements {first}..{} of a chunk of {} bytes of elements",
                    first + values.len(),
                    self.data_bytes
                ),
            ));
        }
        file.write_all_at(bytes, self.header.len() as u64 + offset)
    }

    /// Cuts `file` to a chunk file's length (a spare may be longer).
    ///
    /// # Errors
    /// Any I/O error.
    pub(super) fn finish(&self, file: &File) -> std::io::Result<()> {
        if file.metadata()?.len() != self.file_bytes() {
            file.set_len(self.file_bytes())?;
        }
        Ok(())
    }

    /// Reads the elements of the chunk file at `path` when its head is the template's;
    /// `Ok(None)` when it is not (the caller goes through the library). The store reads
    /// through [`Template::read_run`]; this whole-file form is for tests.
    ///
    /// # Errors
    /// Any I/O error (a missing file included).
    #[cfg(test)]
    pub(super) fn read<T: Element>(&self, path: &Path) -> std::io::Result<Option<Vec<T>>> {
        let len = self.data_bytes as usize / std::mem::size_of::<T>();
        self.read_run(path, 0, len)
    }

    /// Reads elements `first..first + len` (C order) of the chunk file at `path` when its head
    /// is the template's; `Ok(None)` when it is not.
    ///
    /// # Errors
    /// Any I/O error (a missing file included), and `InvalidInput` when the run goes past the
    /// chunk's elements.
    pub(super) fn read_run<T: Element>(
        &self,
        path: &Path,
        first: usize,
        len: usize,
    ) -> std::io::Result<Option<Vec<T>>> {
        let size = std::mem::size_of::<T>() as u64;
        if (first as u64 + len as u64) * size > self.data_bytes {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "elements {first}..{} of a chunk of {} elements",
                    first + len,
                    self.data_bytes / size
                ),
            ));
        }
        let Some(file) = self.open_checked(path)? else {
            return Ok(None);
        };
        let header_len = self.header.len() as u64;
        read_elements_at(&file, header_len + first as u64 * size, len).map(Some)
    }

    /// The chunk file at `path`, open for reading, when its length and head are the
    /// template's; `Ok(None)` when they are not.
    ///
    /// # Errors
    /// Any I/O error (a missing file included).
    fn open_checked(&self, path: &Path) -> std::io::Result<Option<File>> {
        use std::os::unix::fs::OpenOptionsExt;
        // Non-blocking, so that a FIFO where a chunk should be cannot stall the open; for a
        // regular file the flag changes nothing.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        let found = file.metadata()?;
        if !found.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a regular file",
            ));
        }
        if found.len() != self.file_bytes() {
            return Ok(None);
        }
        let mut head = vec![0u8; self.header.len()];
        file.read_exact_at(&mut head, 0)?;
        Ok((head == self.header).then_some(file))
    }

    /// Reads the bytes of the elements from `first` (of `size` bytes each) of the chunk file
    /// at `path` straight into `target`, scattered over `pieces` (`(at, count)` in elements,
    /// in order; checked by the caller to lie in the chunk and in `target`), when its head is
    /// the template's; `Ok(None)` when it is not.
    ///
    /// # Errors
    /// Any I/O error (a missing file included).
    pub(super) fn read_run_into(
        &self,
        path: &Path,
        (first, size): (usize, usize),
        pieces: &[(usize, usize)],
        target: &mut [MaybeUninit<u8>],
    ) -> std::io::Result<Option<()>> {
        let Some(file) = self.open_checked(path)? else {
            return Ok(None);
        };
        let offset = self.header.len() as u64 + (first * size) as u64;
        read_scattered_at(&file, offset, size, pieces, target).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scratch paths in `dir`.
    fn scratch(dir: &Path) -> impl Fn() -> Option<PathBuf> + '_ {
        let next = std::sync::atomic::AtomicUsize::new(0);
        move || {
            let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Some(dir.join(format!("scratch-{n}")))
        }
    }

    fn values<T: Element>(n: usize, from: impl Fn(usize) -> T) -> Vec<T> {
        (0..n).map(from).collect()
    }

    #[test]
    fn written_files_are_read_by_the_hdf5_library() {
        let dir = tempfile::tempdir().unwrap();
        let shape = [3, 4, 5];
        let template = Template::build::<f32>(scratch(dir.path()), &shape).unwrap();
        let data = values(60, |i| i as f32 * 0.5 - 3.0);
        let path = dir.path().join("chunk.h5");
        template.write(&path, &data).unwrap();

        let file = hdf5::File::open(&path).unwrap();
        let dataset = file.dataset(super::super::CHUNK_DATASET).unwrap();
        assert_eq!(dataset.shape(), shape);
        assert_eq!(dataset.read_raw::<f32>().unwrap(), data);
        drop(dataset);
        file.close().unwrap();
        assert_eq!(template.read::<f32>(&path).unwrap(), Some(data));
        // The scratch files are gone.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn every_dtype_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunk.h5");
        let template = Template::build::<u16>(scratch(dir.path()), &[7]).unwrap();
        let data = values(7, |i| (i * 9000) as u16);
        template.write(&path, &data).unwrap();
        let library = hdf5::File::open(&path).unwrap();
        let read: Vec<u16> = library.dataset("data").unwrap().read_raw().unwrap();
        assert_eq!(read, data);
        std::fs::remove_file(&path).unwrap();

        let template = Template::build::<i64>(scratch(dir.path()), &[2, 2]).unwrap();
        template.write(&path, &[-1i64, i64::MAX, 0, 5]).unwrap();
        assert_eq!(
            template.read::<i64>(&path).unwrap(),
            Some(vec![-1, i64::MAX, 0, 5])
        );
    }

    #[test]
    fn other_files_are_left_to_the_library() {
        let dir = tempfile::tempdir().unwrap();
        let template = Template::build::<f64>(scratch(dir.path()), &[4, 4]).unwrap();
        let data = values(16, |i| i as f64);

        // Written by the library with its defaults (timestamps, late allocation): another head.
        let library = dir.path().join("library.h5");
        let file = super::super::create_file(&library).unwrap();
        file.new_dataset::<f64>()
            .shape([4, 4])
            .create("data")
            .unwrap()
            .write_raw(&data)
            .unwrap();
        file.close().unwrap();
        assert_eq!(template.read::<f64>(&library).unwrap(), None);

        // A chunk file of this template cut short, or with a byte of its head changed.
        let ours = dir.path().join("ours.h5");
        template.write(&ours, &data).unwrap();
        let bytes = std::fs::read(&ours).unwrap();
        let cut = dir.path().join("cut.h5");
        std::fs::write(&cut, &bytes[..bytes.len() - 8]).unwrap();
        assert_eq!(template.read::<f64>(&cut).unwrap(), None);
        let mut changed = bytes.clone();
        changed[template.header.len() - 1] ^= 1;
        let other = dir.path().join("other.h5");
        std::fs::write(&other, &changed).unwrap();
        assert_eq!(template.read::<f64>(&other).unwrap(), None);

        // Another shape's template does not take this file either.
        let wider = Template::build::<f64>(scratch(dir.path()), &[2, 8]).unwrap();
        assert_eq!(wider.read::<f64>(&ours).unwrap(), None);
        assert_eq!(template.read::<f64>(&ours).unwrap(), Some(data));
    }

    #[test]
    fn runs_of_elements_are_read_from_their_offset() {
        let dir = tempfile::tempdir().unwrap();
        let template = Template::build::<f64>(scratch(dir.path()), &[4, 3]).unwrap();
        let data = values(12, |i| i as f64 * 1.5);
        let path = dir.path().join("chunk.h5");
        template.write(&path, &data).unwrap();
        assert_eq!(
            template.read_run::<f64>(&path, 3, 6).unwrap(),
            Some(data[3..9].to_vec())
        );
        assert_eq!(
            template.read_run::<f64>(&path, 12, 0).unwrap(),
            Some(vec![])
        );
        let error = template.read_run::<f64>(&path, 9, 4).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        // A file of another structure is left to the library, as for whole reads.
        std::fs::write(dir.path().join("other.h5"), vec![0u8; 200]).unwrap();
        assert_eq!(
            template
                .read_run::<f64>(&dir.path().join("other.h5"), 0, 3)
                .unwrap(),
            None
        );
    }

    #[test]
    fn a_file_written_over_holds_nothing_of_its_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let template = Template::build::<f32>(scratch(dir.path()), &[8]).unwrap();
        let data = values(8, |i| i as f32 + 0.25);
        for old_len in [template.file_bytes() + 100, template.file_bytes(), 3] {
            let path = dir.path().join(format!("spare{old_len}"));
            std::fs::write(&path, vec![0xAB; old_len as usize]).unwrap();
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            template.write_over(&file, &data).unwrap();
            drop(file);
            let fresh = dir.path().join(format!("fresh{old_len}"));
            template.write(&fresh, &data).unwrap();
            assert_eq!(
                std::fs::read(&path).unwrap(),
                std::fs::read(&fresh).unwrap()
            );
            let library = hdf5::File::open(&path).unwrap();
            let read: Vec<f32> = library.dataset("data").unwrap().read_raw().unwrap();
            assert_eq!(read, data);
        }
    }

    #[test]
    fn a_write_of_the_wrong_size_is_refused_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let template = Template::build::<f32>(scratch(dir.path()), &[4]).unwrap();
        let path = dir.path().join("chunk.h5");
        let error = template.write(&path, &[1.0f32; 3]).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("12 bytes"), "{error}");
        assert!(!path.exists());
        // An existing file is never overwritten.
        std::fs::write(&path, b"x").unwrap();
        let error = template.write(&path, &[1.0f32; 4]).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
    }
}
