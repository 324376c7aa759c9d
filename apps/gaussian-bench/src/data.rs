//! The benchmark's input: uniform [0, 1) values from a counter-based hash of (seed, element
//! index), so every chunk is generated on its own, in any order, on any rank, and the data do
//! not depend on the chunk size.

use chunkwise::Region;
use chunkwise_ndimage::FilterFloat;
use ndarray::{ArrayD, IxDyn};

/// splitmix64: a well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The value of element `index` (C-order linear index) for `seed`.
pub fn value<T: FilterFloat>(seed: u64, index: u64) -> T {
    let bits = mix(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ mix(index));
    T::from_f64((bits >> 11) as f64 / (1u64 << 53) as f64)
}

/// The elements of `bounds` of a cube of edge `size`.
pub fn block<T: FilterFloat>(seed: u64, size: usize, bounds: &Region) -> ArrayD<T> {
    let (start, shape) = (bounds.start(), bounds.shape());
    let mut values = Vec::with_capacity(shape.iter().product());
    for z in 0..shape[0] {
        for y in 0..shape[1] {
            let row = ((start[0] + z) * size + start[1] + y) * size + start[2];
            values.extend((0..shape[2]).map(|x| value::<T>(seed, (row + x) as u64)));
        }
    }
    ArrayD::from_shape_vec(IxDyn(&shape), values).expect("one value per element of the block")
}
