//! `copy`: a dataset into a new one, chunk by chunk on the engine, with other chunks, another
//! dtype (numpy's casting rules) or into another store.

use anyhow::{bail, Context, Result};
use chunkwise::cast::can_cast_safely;
use chunkwise::{with_element_type, Connection, DType, DatasetMeta, Element, Layout, Scalar};
use ndarray::{ArrayD, IxDyn};

use crate::parse;
use chunkwise_frontend::agree;

/// What `copy` was asked for.
pub struct CopyRequest<'a> {
    pub source: &'a str,
    pub destination: &'a str,
    pub chunks: Option<&'a str>,
    pub dtype: Option<&'a str>,
    pub fill: Option<&'a str>,
    pub unsafe_cast: bool,
}

/// Copies `request.source` of `conn` into `request.destination` of `target` (collective),
/// visible only once complete; on failure the new dataset is removed again.
pub fn copy(conn: &Connection, target: &Connection, request: &CopyRequest<'_>) -> Result<()> {
    let source = conn.dataset(request.source)?;
    let meta = agree(conn, plan(source.meta(), request))?;
    let name = request.destination;
    let output = target.begin_dataset(name, meta.clone())?;
    let copied = with_element_type!(meta.dtype, D => {
        output.load_with::<D, _>(|_, bounds| {
            let values = source.read_region_data(bounds)?.cast(D::DTYPE);
            let values = D::from_chunk(values)
                .map_err(|_| format!("the conversion into {} gave another dtype", D::DTYPE))?;
            Ok(ArrayD::from_shape_vec(IxDyn(&bounds.shape()), values)?)
        })
    })
    .and_then(|()| output.finish());
    if let Err(error) = copied {
        let _ = target.delete_dataset(name);
        return Err(error).with_context(|| {
            format!(
                "copying \"{}\" into \"{name}\" failed; nothing was kept",
                request.source
            )
        });
    }
    Ok(())
}

/// The new dataset's metadata: the source's, with the requested chunks, dtype and fill.
fn plan(source: &DatasetMeta, request: &CopyRequest<'_>) -> Result<DatasetMeta> {
    let shape = source.layout.shape().to_vec();
    let chunks = match request.chunks {
        Some(text) => parse::shape("--chunks", text)?,
        None => source.layout.chunk_shape().to_vec(),
    };
    let dtype = match request.dtype {
        Some(text) => text.parse::<DType>()?,
        None => source.dtype,
    };
    if !request.unsafe_cast && !can_cast_safely(source.dtype, dtype) {
        bail!(
            "--dtype {dtype}: {} into {dtype} can lose values (numpy's casting rules); expected a \
             conversion that keeps every value, or --unsafe-cast to convert anyway",
            source.dtype
        );
    }
    let fill = match request.fill {
        Some(text) => Scalar::parse(dtype, text)?,
        None => source.fill_value.cast(dtype),
    };
    Ok(DatasetMeta::new(
        Layout::new(&shape, &chunks)?,
        dtype,
        fill,
    )?)
}
