//! What chunkwise and HDF5 say to each other: element types, regions as hyperslabs, errors.
//!
//! Public because every program that reads or writes ordinary HDF5 files beside chunkwise
//! datasets (the CLI's import and export) needs the same mapping.

use chunkwise::{DType, Error, Region, Result};

/// The chunkwise error for an error of the HDF5 library at `path`.
pub fn error(path: impl AsRef<std::path::Path>, cause: hdf5::Error) -> Error {
    Error::store("HDF5", path.as_ref().display(), cause)
}

/// The dtype of an HDF5 datatype, for reading ordinary HDF5 files.
///
/// # Errors
/// [`Error::UnknownDType`] naming the HDF5 type when it is not one of the ten supported.
pub fn dtype_of(datatype: &hdf5::Datatype) -> Result<DType> {
    use hdf5::types::{FloatSize, IntSize, TypeDescriptor as TD};
    let descriptor = datatype.to_descriptor().map_err(|_| {
        let size = datatype.size();
        Error::UnknownDType(match size {
            2 if datatype.is::<i16>() || datatype.is::<u16>() => "HDF5 2-byte integer".into(),
            2 => "HDF5 2-byte float (half precision, f16)".into(),
            _ => format!("HDF5 type of {size} bytes"),
        })
    })?;
    Ok(match descriptor {
        TD::Unsigned(IntSize::U1) => DType::U8,
        TD::Unsigned(IntSize::U2) => DType::U16,
        TD::Unsigned(IntSize::U4) => DType::U32,
        TD::Unsigned(IntSize::U8) => DType::U64,
        TD::Integer(IntSize::U1) => DType::I8,
        TD::Integer(IntSize::U2) => DType::I16,
        TD::Integer(IntSize::U4) => DType::I32,
        TD::Integer(IntSize::U8) => DType::I64,
        TD::Float(FloatSize::U4) => DType::F32,
        TD::Float(FloatSize::U8) => DType::F64,
        TD::Compound(compound) => {
            let fields: Vec<&str> = compound.fields.iter().map(|f| f.name.as_str()).collect();
            let what = if fields == ["r", "i"] || fields == ["real", "imag"] {
                "HDF5 complex numbers (a compound of real and imaginary parts)".to_string()
            } else {
                format!("HDF5 compound type (a struct of {})", fields.join(", "))
            };
            return Err(Error::UnknownDType(what));
        }
        other => return Err(Error::UnknownDType(format!("HDF5 type {other}"))),
    })
}

/// The region as an HDF5 hyperslab, to read or write it in an HDF5 dataset.
pub fn hyperslab(region: &Region) -> hdf5::Hyperslab {
    let slab: Vec<hdf5::SliceOrIndex> = region
        .axes()
        .iter()
        .map(|a| hdf5::SliceOrIndex::SliceCount {
            start: a.start,
            step: a.step,
            count: a.count,
            block: 1,
        })
        .collect();
    hdf5::Hyperslab::from(slab)
}
