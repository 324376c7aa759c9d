//! The benchmark's input: uniform [0, 1) values from a counter-based hash of (seed, element
//! index), so every chunk is generated on its own, in any order, on any rank, and the data do
//! not depend on the chunk size.

use chunkwise::Region;
use chunkwise_ndimage::FilterFloat;
use ndarray::{ArrayD, IxDyn};

/// The increment of the splitmix64 generator.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's output function: a well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator's state before its first output, for `seed`.
fn stream_start(seed: u64) -> u64 {
    mix(seed.wrapping_add(GOLDEN))
}

/// The value of element `index` (C-order linear index): output `index + 1` of a splitmix64
/// generator whose state starts at `start` (one hash per element), as a uniform [0, 1) value.
#[inline]
fn value_from<T: FilterFloat>(start: u64, index: u64) -> T {
    let bits = mix(start.wrapping_add(index.wrapping_add(1).wrapping_mul(GOLDEN)));
    T::from_f64((bits >> 11) as f64 / (1u64 << 53) as f64)
}

/// The elements of `bounds` of a cube of edge `size`.
pub fn block<T: FilterFloat>(seed: u64, size: usize, bounds: &Region) -> ArrayD<T> {
    let (start, shape) = (bounds.start(), bounds.shape());
    let stream = stream_start(seed);
    let mut values = Vec::with_capacity(shape.iter().product());
    for z in 0..shape[0] {
        for y in 0..shape[1] {
            let row = ((start[0] + z) * size + start[1] + y) * size + start[2];
            values.extend((0..shape[2]).map(|x| value_from::<T>(stream, (row + x) as u64)));
        }
    }
    ArrayD::from_shape_vec(IxDyn(&shape), values).expect("one value per element of the block")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chunkwise::AxisSlice;

    fn region(start: [usize; 3], stop: [usize; 3]) -> Region {
        Region::new(
            (0..3)
                .map(|a| AxisSlice::range(start[a], stop[a]))
                .collect(),
        )
    }

    #[test]
    fn a_block_is_the_same_part_of_the_cube_whatever_the_chunking() {
        let whole = block::<f32>(7, 12, &region([0; 3], [12; 3]));
        let part = block::<f32>(7, 12, &region([3, 5, 2], [9, 12, 7]));
        assert_eq!(part, whole.slice(ndarray::s![3..9, 5..12, 2..7]).into_dyn());
        assert_ne!(whole, block::<f32>(8, 12, &region([0; 3], [12; 3])));
    }

    #[test]
    fn values_are_uniform_in_the_unit_interval() {
        let values = block::<f64>(3, 64, &region([0; 3], [64; 3]));
        let n = values.len() as f64;
        assert!(values.iter().all(|&v| (0.0..1.0).contains(&v)));
        let mean = values.sum() / n;
        let variance = values.mapv(|v| (v - mean) * (v - mean)).sum() / n;
        // 262 144 values: the mean's standard error is 0.00056.
        assert!((mean - 0.5).abs() < 0.003, "mean {mean}");
        assert!((variance - 1.0 / 12.0).abs() < 0.002, "variance {variance}");
        let below: usize = values.iter().filter(|&&v| v < 0.1).count();
        assert!((below as f64 / n - 0.1).abs() < 0.003, "{below} below 0.1");
    }
}
