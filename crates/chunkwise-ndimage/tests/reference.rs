//! Against an independent, straightforward f64 implementation written here: the boundary
//! extension is built by explicit reflection/wrapping of the line (not by index arithmetic),
//! the kernel from the formula, each output a plain sum. Random shapes, sigmas, modes.

use chunkwise::Boundary;
use chunkwise_ndimage::{gaussian_filter, gaussian_filter1d, FilterFloat};
use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;

/// The line extended by `r` values on both sides, built the way the modes are drawn.
fn extend(line: &[f64], r: usize, mode: Boundary) -> Vec<f64> {
    let n = line.len();
    let mut left: Vec<f64> = Vec::new(); // nearest value first
    let mut right: Vec<f64> = Vec::new();
    match mode {
        Boundary::Constant(c) => {
            left = vec![c; r];
            right = vec![c; r];
        }
        Boundary::Nearest => {
            left = vec![line[0]; r];
            right = vec![line[n - 1]; r];
        }
        Boundary::Wrap => {
            while left.len() < r {
                left.extend(line.iter().rev());
                right.extend(line.iter());
            }
        }
        Boundary::Reflect => {
            // d c b a | a b c d | d c b a: alternate reversed and forward copies.
            let mut forward = true;
            while left.len() < r {
                if forward {
                    left.extend(line.iter());
                    right.extend(line.iter().rev());
                } else {
                    left.extend(line.iter().rev());
                    right.extend(line.iter());
                }
                forward = !forward;
            }
        }
        Boundary::Mirror => {
            // d c b | a b c d | c b a: the edge value is not repeated.
            if n == 1 {
                left = vec![line[0]; r];
                right = vec![line[0]; r];
            } else {
                let mut forward = true;
                while left.len() < r {
                    if forward {
                        left.extend(line[1..].iter());
                        right.extend(line[..n - 1].iter().rev());
                    } else {
                        left.extend(line[..n - 1].iter().rev());
                        right.extend(line[1..].iter());
                    }
                    forward = !forward;
                }
            }
        }
    }
    left.truncate(r);
    right.truncate(r);
    left.reverse();
    left.iter().chain(line).chain(&right).copied().collect()
}

fn kernel(sigma: f64, truncate: f64) -> Vec<f64> {
    let r = (truncate * sigma + 0.5).floor() as i64;
    let raw: Vec<f64> = (-r..=r)
        .map(|x| (-(x * x) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|v| v / total).collect()
}

/// One axis in f64, the result rounded to `T` as scipy stores each pass.
fn reference_1d<T: FilterFloat>(
    x: &ArrayD<T>,
    sigma: f64,
    axis: usize,
    mode: Boundary,
    truncate: f64,
) -> ArrayD<T> {
    let k = kernel(sigma, truncate);
    let r = k.len() / 2;
    let mut out = x.clone();
    for (lane_in, mut lane_out) in x
        .lanes(Axis(axis))
        .into_iter()
        .zip(out.lanes_mut(Axis(axis)))
    {
        let line: Vec<f64> = lane_in.iter().map(|v| v.to_f64()).collect();
        let ext = extend(&line, r, mode);
        for (i, o) in lane_out.iter_mut().enumerate() {
            let sum: f64 = (0..k.len()).map(|j| k[j] * ext[i + j]).sum();
            *o = T::from_f64(sum);
        }
    }
    out
}

fn reference<T: FilterFloat>(
    x: &ArrayD<T>,
    sigmas: &[f64],
    mode: Boundary,
    truncate: f64,
) -> ArrayD<T> {
    let mut current = x.clone();
    for (axis, &s) in sigmas.iter().enumerate() {
        if s > 1e-15 {
            current = reference_1d(&current, s, axis, mode, truncate);
        }
    }
    current
}

/// `|got − want| ≤ rtol · max(|want|, max|x|)`: relative to the value, or to the data's
/// magnitude where outputs cancel towards zero (f32 passes sum in f32, scipy in f64).
fn assert_close<T: FilterFloat>(
    got: &ArrayD<T>,
    want: &ArrayD<T>,
    x: &ArrayD<T>,
    rtol: f64,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.shape(), want.shape());
    let scale = x.iter().map(|v| v.to_f64().abs()).fold(0.0, f64::max);
    for (g, w) in got.iter().zip(want.iter()) {
        let (g, w) = (g.to_f64(), w.to_f64());
        prop_assert!(
            (g - w).abs() <= rtol * w.abs().max(scale),
            "got {} want {}",
            g,
            w
        );
    }
    Ok(())
}

fn mode() -> impl Strategy<Value = Boundary> {
    prop_oneof![
        Just(Boundary::Reflect),
        Just(Boundary::Mirror),
        Just(Boundary::Nearest),
        (-2.0f64..2.0).prop_map(Boundary::Constant),
        Just(Boundary::Wrap),
    ]
}

fn array(shape: Vec<usize>, seed: u64) -> ArrayD<f64> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    ArrayD::from_shape_simple_fn(IxDyn(&shape), || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 0.5
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn gaussian_filter_equals_reference(
        shape in proptest::collection::vec(1usize..14, 1..=3),
        sigmas in proptest::collection::vec(prop_oneof![Just(0.0), 0.3f64..3.5], 3),
        mode in mode(),
        truncate in prop_oneof![Just(4.0), 1.0f64..5.0],
        seed in any::<u64>(),
    ) {
        let x = array(shape.clone(), seed);
        let sigmas = &sigmas[..shape.len()];
        let got = gaussian_filter(x.view(), sigmas.to_vec(), mode, truncate).unwrap();
        assert_close(&got, &reference(&x, sigmas, mode, truncate), &x, 1e-12)?;
        let x32 = x.mapv(|v| v as f32);
        let got32 = gaussian_filter(x32.view(), sigmas.to_vec(), mode, truncate).unwrap();
        assert_close(&got32, &reference(&x32, sigmas, mode, truncate), &x32, 1e-5)?;
    }

    #[test]
    fn gaussian_filter1d_equals_reference(
        shape in proptest::collection::vec(1usize..20, 1..=3),
        sigma in 0.2f64..6.0,
        axis_pick in 0usize..3,
        mode in mode(),
        seed in any::<u64>(),
    ) {
        let x = array(shape.clone(), seed);
        let axis = axis_pick % shape.len();
        let got = gaussian_filter1d(x.view(), sigma, axis, mode, 4.0).unwrap();
        assert_close(&got, &reference_1d(&x, sigma, axis, mode, 4.0), &x, 1e-12)?;
        let x32 = x.mapv(|v| v as f32);
        let got32 = gaussian_filter1d(x32.view(), sigma, axis, mode, 4.0).unwrap();
        assert_close(&got32, &reference_1d(&x32, sigma, axis, mode, 4.0), &x32, 1e-5)?;
    }
}

#[test]
fn bad_parameters_are_refused_with_the_value() {
    let x = ArrayD::<f32>::zeros(IxDyn(&[4, 4]));
    let err = gaussian_filter(x.view(), -1.0, Boundary::Reflect, 4.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("-1"), "{err}");
    let err = gaussian_filter(x.view(), vec![1.0, 1.0, 1.0], Boundary::Reflect, 4.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 sigmas") && err.contains("2 axes"), "{err}");
    let err = gaussian_filter(x.view(), 1.0, Boundary::Reflect, 0.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("truncate 0"), "{err}");
    let err = gaussian_filter1d(x.view(), 1.0, 2, Boundary::Reflect, 4.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("axis 2"), "{err}");
    assert!(gaussian_filter1d(x.view(), 0.0, 0, Boundary::Reflect, 4.0).is_err());
    // Sigma 0 on every axis leaves the array as it is, as scipy does.
    let y = ArrayD::from_shape_fn(IxDyn(&[3, 3]), |i| (i[0] + i[1]) as f32);
    assert_eq!(
        gaussian_filter(y.view(), 0.0, Boundary::Reflect, 4.0).unwrap(),
        y
    );
}

#[test]
fn filtering_into_an_existing_array_equals_the_allocating_filter() {
    use chunkwise_ndimage::gaussian_filter_into;
    let x = array(vec![9, 10, 11], 5).mapv(|v| v as f32);
    for (sigma, mode) in [
        (vec![1.5, 1.5, 1.5], Boundary::Reflect),
        (vec![0.0, 2.0, 0.7], Boundary::Constant(0.5)),
    ] {
        let mut out = ArrayD::<f32>::zeros(IxDyn(&[9, 10, 11]));
        gaussian_filter_into(x.view(), out.view_mut(), sigma.clone(), mode, 4.0).unwrap();
        assert_eq!(out, gaussian_filter(x.view(), sigma, mode, 4.0).unwrap());
    }
    let mut wrong = ArrayD::<f32>::zeros(IxDyn(&[9, 10]));
    let err = gaussian_filter_into(x.view(), wrong.view_mut(), 1.0, Boundary::Reflect, 4.0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[9, 10]") && err.contains("[9, 10, 11]"),
        "{err}"
    );
    let mut transposed = ArrayD::<f32>::zeros(IxDyn(&[11, 10, 9]));
    let mut view = transposed.view_mut();
    view.invert_axis(ndarray::Axis(0));
    let reversed = view.permuted_axes(IxDyn(&[2, 1, 0]));
    let err = gaussian_filter_into(x.view(), reversed, 1.0, Boundary::Reflect, 4.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("standard layout"), "{err}");
}
