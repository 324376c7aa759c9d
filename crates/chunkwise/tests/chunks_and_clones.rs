//! Chunk handles (whole chunk and sub-region reads and writes, create, delete) and clones
//! (structure only, or with data), on every backend × engine.

mod common;

use chunkwise::{Error, Region, Selection};
use ndarray::{s, ArrayD, IxDyn};

#[test]
fn chunk_handles_show_only_the_valid_part() {
    for setup in common::all_setups() {
        let ds = setup
            .conn
            .create::<i32>("d", &[10, 7], &[4, 3], -1)
            .unwrap();
        let edge = ds.chunk(&[2, 2]).unwrap();
        assert_eq!(edge.shape(), vec![2, 1]);
        assert_eq!(edge.bounds(), Region::from_bounds(&[8, 6], &[10, 7]));
        assert!(!edge.exists().unwrap());
        assert_eq!(
            edge.read::<i32>().unwrap(),
            ArrayD::from_elem(IxDyn(&[2, 1]), -1)
        );
        assert!(
            !edge.exists().unwrap(),
            "{}: reading created the chunk",
            setup.label
        );

        edge.write(ndarray::arr2(&[[5], [6]]).into_dyn().view())
            .unwrap();
        assert!(ds.has_chunk(&[2, 2]).unwrap());
        let all = ds.read_all::<i32>().unwrap();
        assert_eq!(all.slice(s![8.., 6..]), ndarray::arr2(&[[5], [6]]));
        let wrong = edge
            .write(ArrayD::<i32>::zeros(IxDyn(&[4, 3])).view())
            .unwrap_err();
        assert!(matches!(wrong, Error::ShapeMismatch { .. }), "{wrong:?}");

        let inner = ds.create_chunk(&[1, 1]).unwrap();
        assert!(inner.exists().unwrap());
        assert_eq!(
            inner.read::<i32>().unwrap(),
            ArrayD::from_elem(IxDyn(&[4, 3]), -1)
        );
        let region = Region::from_bounds(&[1, 1], &[3, 3]);
        inner
            .write_region(&region, ArrayD::from_elem(IxDyn(&[2, 2]), 9).view())
            .unwrap();
        assert_eq!(
            inner.read_region::<i32>(&region).unwrap(),
            ArrayD::from_elem(IxDyn(&[2, 2]), 9)
        );
        assert_eq!(
            ds.read::<i32>(&Selection::parse("4:8, 3:6").unwrap())
                .unwrap()[[0, 0]],
            -1
        );
        assert_eq!(
            ds.read::<i32>(&Selection::parse("5, 4").unwrap())
                .unwrap()
                .into_raw_vec_and_offset()
                .0,
            vec![9]
        );
        let outside = inner
            .read_region::<i32>(&Region::from_bounds(&[0, 0], &[5, 1]))
            .unwrap_err();
        assert!(matches!(outside, Error::Selection { .. }), "{outside:?}");

        assert_eq!(ds.list_chunks().unwrap(), vec![vec![1, 1], vec![2, 2]]);
        assert!(ds.delete_chunk(&[1, 1]).unwrap());
        assert!(!ds.delete_chunk(&[1, 1]).unwrap());
        assert!(matches!(
            ds.chunk(&[3, 0]),
            Err(Error::ChunkOutOfRange { .. })
        ));
    }
}

#[test]
fn clones_copy_structure_and_optionally_data() {
    let data = common::random_cube(5);
    for setup in common::all_setups() {
        let ds = setup
            .conn
            .create::<i32>("src", &[100, 100, 100], &[32, 32, 32], 4)
            .unwrap();
        ds.write(
            &Selection::parse(":40").unwrap(),
            data.slice(s![..40, .., ..]).into_dyn(),
        )
        .unwrap();

        let empty = ds.clone_as("structure", false).unwrap();
        assert_eq!(empty.meta(), ds.meta());
        assert!(empty.list_chunks().unwrap().is_empty(), "{}", setup.label);

        let full = ds.clone_as("copy", true).unwrap();
        assert_eq!(full.list_chunks().unwrap(), ds.list_chunks().unwrap());
        assert_eq!(
            full.read_all::<i32>().unwrap(),
            ds.read_all::<i32>().unwrap(),
            "{}",
            setup.label
        );

        // The clone is independent of its source.
        full.write_value(&Selection::parse("0").unwrap(), 0)
            .unwrap();
        assert_eq!(
            ds.read::<i32>(&Selection::parse("0").unwrap()).unwrap(),
            data.slice(s![0, .., ..]).into_dyn()
        );
        assert!(matches!(
            ds.clone_as("copy", true),
            Err(Error::DatasetExists(_))
        ));

        let names = setup.conn.list_datasets().unwrap();
        assert_eq!(names, vec!["copy", "src", "structure"]);
        full.delete().unwrap();
        assert_eq!(
            setup.conn.list_datasets().unwrap(),
            vec!["src", "structure"]
        );
    }
}

#[test]
fn load_with_generates_each_chunk_once() {
    for setup in common::all_setups() {
        let ds = setup
            .conn
            .create::<f64>("gen", &[33, 20], &[8, 8], 0.0)
            .unwrap();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        ds.load_with::<f64, _>(|_, bounds| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let start = bounds.start();
            Ok(ArrayD::from_shape_fn(IxDyn(&bounds.shape()), |i| {
                ((start[0] + i[0]) * 100 + start[1] + i[1]) as f64
            }))
        })
        .unwrap();
        assert_eq!(calls.into_inner(), ds.layout().num_chunks());
        let expected = ArrayD::from_shape_fn(IxDyn(&[33, 20]), |i| (i[0] * 100 + i[1]) as f64);
        assert_eq!(ds.read_all::<f64>().unwrap(), expected, "{}", setup.label);
    }
}
