//! Against scipy.ndimage itself: the fixtures in tests/fixtures/gaussian.h5 were made by
//! tests/fixtures/make_gaussian_fixtures.py (every mode, f32 and f64, scalar and per-axis sigma,
//! every axis, kernels wider than the axis, asymmetric and even-length correlate1d weights).

use std::path::PathBuf;

use chunkwise::Boundary;
use chunkwise_ndimage::{correlate1d, gaussian_filter, gaussian_filter1d, FilterFloat};
use hdf5::types::VarLenUnicode;
use ndarray::ArrayD;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/gaussian.h5")
}

fn text_attr(group: &hdf5::Group, name: &str) -> String {
    group
        .attr(name)
        .unwrap()
        .read_scalar::<VarLenUnicode>()
        .unwrap()
        .as_str()
        .to_string()
}

/// `|got − want| ≤ rtol · max(|want|, max|x|)`: relative to the value, or to the data's
/// magnitude where outputs cancel towards zero (f32 passes sum in f32, scipy in f64).
fn assert_close<T: FilterFloat>(
    got: &ArrayD<T>,
    want: &ArrayD<T>,
    x: &ArrayD<T>,
    rtol: f64,
    case: &str,
) {
    assert_eq!(got.shape(), want.shape(), "{case}");
    let scale = x.iter().map(|v| v.to_f64().abs()).fold(0.0, f64::max);
    for ((index, g), w) in got.indexed_iter().zip(want.iter()) {
        let (g, w) = (g.to_f64(), w.to_f64());
        let tolerance = rtol * w.abs().max(scale);
        assert!(
            (g - w).abs() <= tolerance,
            "{case} at {index:?}: got {g}, scipy {w}"
        );
    }
}

fn run_case<T: FilterFloat + hdf5::H5Type>(group: &hdf5::Group, name: &str, rtol: f64) {
    let input = group.dataset("input").unwrap().read_dyn::<T>().unwrap();
    let want = group.dataset("output").unwrap().read_dyn::<T>().unwrap();
    let sigma = group.dataset("sigma").unwrap().read_raw::<f64>().unwrap();
    let weights = group.dataset("weights").unwrap().read_raw::<f64>().unwrap();
    let function = text_attr(group, "function");
    let mode_name = text_attr(group, "mode");
    let axis = group.attr("axis").unwrap().read_scalar::<i64>().unwrap();
    let cval = group.attr("cval").unwrap().read_scalar::<f64>().unwrap();
    let truncate = group
        .attr("truncate")
        .unwrap()
        .read_scalar::<f64>()
        .unwrap();
    let mode = Boundary::parse(&mode_name, cval).unwrap();
    let axis = if axis < 0 {
        input.ndim() as i64 + axis
    } else {
        axis
    } as usize;
    let got = match function.as_str() {
        "gaussian_filter" if sigma.len() == 1 => {
            gaussian_filter(input.view(), sigma[0], mode, truncate)
        }
        "gaussian_filter" => gaussian_filter(input.view(), sigma.clone(), mode, truncate),
        "gaussian_filter1d" => gaussian_filter1d(input.view(), sigma[0], axis, mode, truncate),
        "correlate1d" => correlate1d(input.view(), &weights, axis, mode),
        other => panic!("unknown function {other}"),
    }
    .unwrap();
    let label = format!(
        "case {name}: {function} sigma {sigma:?} axis {axis} {mode} truncate {truncate} {:?}",
        input.shape()
    );
    assert_close(&got, &want, &input, rtol, &label);
}

#[test]
fn equals_scipy_on_every_fixture() {
    let file = hdf5::File::open(fixtures()).expect("tests/fixtures/gaussian.h5 is committed");
    let cases = file.group("cases").unwrap();
    let names = cases.member_names().unwrap();
    assert!(names.len() >= 100, "only {} fixture cases", names.len());
    let (mut f32_cases, mut f64_cases) = (0, 0);
    for name in names {
        let group = cases.group(&name).unwrap();
        match group.dataset("input").unwrap().dtype().unwrap().size() {
            4 => {
                run_case::<f32>(&group, &name, 1e-5);
                f32_cases += 1;
            }
            _ => {
                run_case::<f64>(&group, &name, 1e-12);
                f64_cases += 1;
            }
        }
    }
    assert!(
        f32_cases >= 50 && f64_cases >= 50,
        "{f32_cases} f32 and {f64_cases} f64 cases"
    );
}
