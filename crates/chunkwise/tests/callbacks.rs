//! Errors and panics in user callbacks become errors naming the chunk, on every engine, and a
//! failed map leaves no output dataset behind.

mod common;

use chunkwise::{CallbackError, Error};
use ndarray::ArrayViewD;

#[test]
fn callback_errors_name_the_chunk() {
    for setup in common::all_setups() {
        let ds = setup
            .conn
            .create::<f64>("data", &[8, 8], &[4, 4], 0.0)
            .unwrap();
        let result = ds.apply(|chunk: &[usize], block: ArrayViewD<f64>| {
            if chunk == [1, 0] {
                Err::<_, CallbackError>("bad voxel".into())
            } else {
                Ok(block.to_owned())
            }
        });
        let error = result.unwrap_err();
        assert!(
            matches!(error, Error::Callback { .. }),
            "{}: {error:?}",
            setup.label
        );
        assert_eq!(
            error.to_string(),
            "callback failed on chunk (1, 0): bad voxel"
        );
    }
}

#[test]
fn callback_panics_become_errors_and_map_cleans_up() {
    for setup in common::all_setups() {
        let ds = setup
            .conn
            .create::<f64>("data", &[8, 8], &[4, 4], 0.0)
            .unwrap();
        let result = ds.map::<f64, _>("out", |chunk, block| {
            if chunk == [0, 1] {
                panic!("boom at {chunk:?}");
            }
            Ok(block.to_owned())
        });
        let error = result.unwrap_err();
        assert!(
            matches!(error, Error::Panic { .. }),
            "{}: {error:?}",
            setup.label
        );
        let text = error.to_string();
        assert!(text.contains("(0, 1)") && text.contains("boom"), "{text}");
        assert!(
            !setup.conn.has_dataset("out").unwrap(),
            "{}: a failed map left its output",
            setup.label
        );
    }
}

#[test]
fn wrong_result_shape_is_rejected() {
    for setup in common::all_setups() {
        let ds = setup.conn.create::<i8>("data", &[5], &[2], 0).unwrap();
        let error = ds
            .apply::<i8, _>(|_, _| Ok(ndarray::ArrayD::zeros(ndarray::IxDyn(&[3]))))
            .unwrap_err();
        assert!(matches!(error, Error::ShapeMismatch { .. }), "{error:?}");
    }
}

#[test]
fn wrong_element_type_is_rejected_before_any_work() {
    for setup in common::all_setups() {
        let ds = setup.conn.create::<u8>("data", &[4], &[2], 0).unwrap();
        let error = ds.read_all::<f32>().unwrap_err().to_string();
        assert_eq!(
            error,
            "dtype mismatch: dataset \"data\" holds u8, but f32 was used"
        );
    }
}
