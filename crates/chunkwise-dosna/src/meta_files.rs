//! Dataset files (`dataset.h5`) remembered by their bytes, so creating and opening datasets of
//! a metadata seen before needs no HDF5 call.
//!
//! Why: creating a dataset file through the library costs about a millisecond, opening one
//! about as much, and a stencil pass creates its output dataset from the same metadata as its
//! input (a 3×1D Gaussian creates three). Both directions are exact by construction:
//! - a file the library wrote for some metadata is, byte for byte, a dataset file of that
//!   metadata, so writing those bytes again writes that file;
//! - parsing is a function of the bytes, so a file whose bytes equal a file parsed before has
//!   the same metadata.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chunkwise::dtype::Scalar;
use chunkwise::store::DatasetMeta;

/// At most this many distinct files are remembered; the memory is dropped when it is full.
const CAPACITY: usize = 256;

/// The fill value's bits, so that every distinct value (every NaN too) is a distinct key.
fn fill_bits(fill: Scalar) -> u64 {
    match fill {
        Scalar::U8(v) => u64::from(v),
        Scalar::U16(v) => u64::from(v),
        Scalar::U32(v) => u64::from(v),
        Scalar::U64(v) => v,
        Scalar::I8(v) => v as u64,
        Scalar::I16(v) => v as u64,
        Scalar::I32(v) => v as u64,
        Scalar::I64(v) => v as u64,
        Scalar::F32(v) => u64::from(v.to_bits()),
        Scalar::F64(v) => v.to_bits(),
    }
}

type Key = (Vec<usize>, Vec<usize>, chunkwise::dtype::DType, u64);

fn key(meta: &DatasetMeta) -> Key {
    (
        meta.layout.shape().to_vec(),
        meta.layout.chunk_shape().to_vec(),
        meta.dtype,
        fill_bits(meta.fill_value),
    )
}

#[derive(Debug, Default)]
struct Known {
    by_meta: HashMap<Key, Arc<[u8]>>,
    by_bytes: HashMap<Arc<[u8]>, DatasetMeta>,
}

/// The dataset files a store has written or parsed.
#[derive(Debug, Default)]
pub(super) struct MetaFiles {
    known: Mutex<Known>,
}

impl MetaFiles {
    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The bytes of a dataset file of `meta`, if one was seen.
    pub(super) fn bytes_of(&self, meta: &DatasetMeta) -> Option<Arc<[u8]>> {
        self.known().by_meta.get(&key(meta)).cloned()
    }

    /// The metadata of a dataset file with exactly these bytes, if one was seen.
    pub(super) fn meta_of(&self, bytes: &[u8]) -> Option<DatasetMeta> {
        self.known().by_bytes.get(bytes).cloned()
    }

    /// Remembers that `bytes` are a dataset file of `meta`.
    pub(super) fn remember(&self, meta: &DatasetMeta, bytes: Vec<u8>) {
        let mut known = self.known();
        if known.by_bytes.len() >= CAPACITY {
            known.by_meta.clear();
            known.by_bytes.clear();
        }
        let bytes: Arc<[u8]> = bytes.into();
        known.by_meta.insert(key(meta), Arc::clone(&bytes));
        known.by_bytes.insert(bytes, meta.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chunkwise::dtype::DType;
    use chunkwise::layout::Layout;

    fn meta(fill: f32) -> DatasetMeta {
        DatasetMeta::new(
            Layout::new(&[10, 12], &[4, 5]).unwrap(),
            DType::F32,
            Scalar::F32(fill),
        )
        .unwrap()
    }

    #[test]
    fn files_are_found_by_metadata_and_by_bytes_only_when_equal() {
        let files = MetaFiles::default();
        assert!(files.bytes_of(&meta(1.0)).is_none());
        files.remember(&meta(1.0), vec![1, 2, 3]);
        assert_eq!(&*files.bytes_of(&meta(1.0)).unwrap(), &[1, 2, 3]);
        assert_eq!(files.meta_of(&[1, 2, 3]), Some(meta(1.0)));
        assert!(files.meta_of(&[1, 2]).is_none());
        assert!(files.bytes_of(&meta(2.0)).is_none());
        // NaN fill values with other payloads are other metadata.
        files.remember(&meta(f32::NAN), vec![9]);
        assert!(files.bytes_of(&meta(f32::from_bits(0x7fc0_0001))).is_none());
        assert!(files.bytes_of(&meta(f32::NAN)).is_some());
    }

    #[test]
    fn a_full_memory_starts_again() {
        let files = MetaFiles::default();
        for i in 0..CAPACITY {
            files.remember(&meta(i as f32), vec![i as u8, (i >> 8) as u8]);
        }
        assert!(files.bytes_of(&meta(0.0)).is_some());
        files.remember(&meta(-1.0), vec![7, 7, 7]);
        assert!(files.bytes_of(&meta(0.0)).is_none());
        assert!(files.bytes_of(&meta(-1.0)).is_some());
    }
}
