//! A handle on one chunk of a dataset: read and write its valid part, or a region of it.

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use crate::array::{check_shape, chunk_array, into_c_vec, padded_chunk_from_view, valid_array};
use crate::dataset::Dataset;
use crate::dtype::Element;
use crate::error::{fmt_tuple, Error, Result};
use crate::region::Region;

/// One chunk of a dataset. Everything it shows is the valid (unpadded) part.
#[derive(Debug, Clone)]
pub struct Chunk<'a> {
    dataset: &'a Dataset,
    index: Vec<usize>,
}

impl<'a> Chunk<'a> {
    pub(crate) fn new(dataset: &'a Dataset, index: Vec<usize>) -> Self {
        Chunk { dataset, index }
    }

    /// The chunk's index in the grid.
    pub fn index(&self) -> &[usize] {
        &self.index
    }

    /// The elements it holds, in dataset coordinates.
    pub fn bounds(&self) -> Region {
        self.dataset.layout().chunk_bounds(&self.index)
    }

    /// Shape of the valid part.
    pub fn shape(&self) -> Vec<usize> {
        self.dataset.layout().chunk_valid_shape(&self.index)
    }

    /// Whether it has been written.
    ///
    /// # Errors
    /// A storage error.
    pub fn exists(&self) -> Result<bool> {
        self.dataset.handle.has_chunk(&self.index)
    }

    /// The valid part (the fill value everywhere when the chunk was never written).
    ///
    /// # Errors
    /// [`Error::DTypeMismatch`], or a storage error.
    pub fn read<T: Element>(&self) -> Result<ArrayD<T>> {
        self.dataset.check_type::<T>()?;
        let stored = self.dataset.read_stored(&self.index)?;
        valid_array(
            self.dataset.layout(),
            &self.index,
            stored,
            self.dataset.fill::<T>(),
        )
    }

    /// A region of the valid part, in coordinates relative to the chunk's first element.
    ///
    /// # Errors
    /// [`Error::Selection`] when the region does not fit the valid shape, or as
    /// [`Chunk::read`].
    pub fn read_region<T: Element>(&self, region: &Region) -> Result<ArrayD<T>> {
        self.check_region(region)?;
        Ok(crate::array::owned(region.view_of(&self.read::<T>()?)))
    }

    /// Replaces the valid part (the padding is refilled with the fill value).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `values` is not of the valid shape,
    /// [`Error::DTypeMismatch`], or a storage error.
    pub fn write<T: Element>(&self, values: ArrayViewD<'_, T>) -> Result<()> {
        self.dataset.check_type::<T>()?;
        check_shape(&self.shape(), values.shape(), || {
            format!(
                "writing chunk {} of dataset \"{}\"",
                fmt_tuple(&self.index),
                self.dataset.name()
            )
        })?;
        let data = padded_chunk_from_view(self.dataset.layout(), values, self.dataset.fill::<T>());
        self.dataset.write_stored(&self.index, &data)
    }

    /// Writes a region of the valid part (read-modify-write of the chunk).
    ///
    /// # Errors
    /// As [`Chunk::read_region`] and [`Chunk::write`].
    pub fn write_region<T: Element>(
        &self,
        region: &Region,
        values: ArrayViewD<'_, T>,
    ) -> Result<()> {
        self.check_region(region)?;
        check_shape(&region.shape(), values.shape(), || {
            format!(
                "writing region {region} of chunk {}",
                fmt_tuple(&self.index)
            )
        })?;
        self.dataset.check_type::<T>()?;
        let layout = self.dataset.layout();
        let fill = self.dataset.fill::<T>();
        // Region coordinates are relative to the chunk's first element, in the stored chunk too.
        self.dataset.update_stored(&self.index, &mut |current| {
            let mut full = match current {
                Some(data) => chunk_array::<T>(layout, data)?,
                None => ArrayD::from_elem(IxDyn(layout.chunk_shape()), fill),
            };
            region.view_mut_of(&mut full).assign(&values);
            Ok(T::into_chunk(into_c_vec(full)))
        })
    }

    /// Deletes it; returns whether it existed.
    ///
    /// # Errors
    /// A storage error.
    pub fn delete(&self) -> Result<bool> {
        self.dataset.handle.delete_chunk(&self.index)
    }

    fn check_region(&self, region: &Region) -> Result<()> {
        let shape = self.shape();
        if region.fits(&shape) {
            Ok(())
        } else {
            Err(Error::Selection {
                selection: region.to_string(),
                problem: format!(
                    "does not fit chunk {} (valid shape {})",
                    fmt_tuple(&self.index),
                    fmt_tuple(&shape)
                ),
            })
        }
    }
}
