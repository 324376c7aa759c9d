//! The reference dataset cases: 100³ random integers in 32³ chunks, on every backend × engine,
//! compared against ndarray slicing of the same in-memory array.

mod common;

use chunkwise::{Error, Selection};
use ndarray::{s, ArrayD, Axis, IxDyn};

#[test]
fn selections_touch_the_expected_chunks_and_equal_slices() {
    let data = common::random_cube(1);
    for setup in common::all_setups() {
        let ds = setup
            .conn
            .create::<i32>("data", &[100, 100, 100], &[32, 32, 32], 0)
            .unwrap();
        ds.load(data.view()).unwrap();
        let cases: [(&str, usize, ArrayD<i32>); 5] = [
            (
                "50,:32,:32",
                1,
                data.slice(s![50, ..32, ..32]).to_owned().into_dyn(),
            ),
            (
                "50,:32,:33",
                2,
                data.slice(s![50, ..32, ..33]).to_owned().into_dyn(),
            ),
            (
                ":50,:32,:33",
                4,
                data.slice(s![..50, ..32, ..33]).to_owned().into_dyn(),
            ),
            (
                ":,:66,50:96",
                24,
                data.slice(s![.., ..66, 50..96]).to_owned().into_dyn(),
            ),
            ("...", 64, data.clone()),
        ];
        for (text, touched, expected) in cases {
            let selection = Selection::parse(text).unwrap();
            let resolved = ds.resolve(&selection).unwrap();
            assert_eq!(
                ds.layout().chunks_touched(&resolved.region),
                touched,
                "{} {text}",
                setup.label
            );
            assert_eq!(ds.layout().chunk_parts(&resolved.region).len(), touched);
            assert_eq!(
                ds.read::<i32>(&selection).unwrap(),
                expected,
                "{} {text}",
                setup.label
            );
        }
    }
}

#[test]
fn clear_gives_the_fill_value_everywhere() {
    let data = common::random_cube(2);
    for setup in common::all_setups() {
        let ds = setup
            .conn
            .create::<i32>("data", &[100, 100, 100], &[32, 32, 32], -7)
            .unwrap();
        ds.load(data.view()).unwrap();
        assert_eq!(ds.list_chunks().unwrap().len(), 64);
        ds.clear().unwrap();
        assert!(ds.list_chunks().unwrap().is_empty(), "{}", setup.label);
        let all = ds.read_all::<i32>().unwrap();
        assert!(all.iter().all(|&v| v == -7), "{}", setup.label);
    }
}

#[test]
fn map_and_apply_add_one() {
    let data = common::random_cube(3);
    let plus_one = data.mapv(|v| v + 1);
    for setup in common::all_setups() {
        let ds = setup
            .conn
            .create::<i32>("data", &[100, 100, 100], &[32, 32, 32], 0)
            .unwrap();
        ds.load(data.view()).unwrap();
        let mapped = ds
            .map::<i32, _>("mapped", |_, block| Ok(block.mapv(|v| v + 1)))
            .unwrap();
        assert_eq!(
            mapped.read_all::<i32>().unwrap(),
            plus_one,
            "{}",
            setup.label
        );
        assert_eq!(
            ds.read_all::<i32>().unwrap(),
            data,
            "map must not change its input"
        );
        ds.apply::<i32, _>(|_, block| Ok(block.mapv(|v| v + 1)))
            .unwrap();
        assert_eq!(ds.read_all::<i32>().unwrap(), plus_one, "{}", setup.label);
    }
}

#[test]
fn writing_data_times_three_plus_five_in_three_parts_along_x() {
    let data = common::random_cube(4);
    let expected = data.mapv(|v| v * 3 + 5);
    for setup in common::all_setups() {
        let ds = setup
            .conn
            .create::<i32>("data", &[100, 100, 100], &[32, 32, 32], 0)
            .unwrap();
        ds.load(data.view()).unwrap();
        for (start, stop) in [(0, 33), (33, 66), (66, 100)] {
            let selection = Selection::parse(&format!("{start}:{stop}")).unwrap();
            let part = ds.read::<i32>(&selection).unwrap().mapv(|v| v * 3 + 5);
            ds.write(&selection, part.view()).unwrap();
        }
        assert_eq!(ds.read_all::<i32>().unwrap(), expected, "{}", setup.label);
    }
}

#[test]
fn callbacks_get_the_valid_part_and_the_chunk_index() {
    for setup in common::all_setups() {
        let ds = setup
            .conn
            .create::<u16>("edges", &[10, 7], &[4, 3], 9)
            .unwrap();
        let layout = ds.layout().clone();
        ds.apply(move |chunk, block| {
            assert_eq!(block.shape(), layout.chunk_valid_shape(chunk).as_slice());
            assert!(
                block.iter().all(|&v| v == 9),
                "unwritten chunks come in as the fill value"
            );
            Ok(ArrayD::from_elem(
                IxDyn(block.shape()),
                (chunk[0] * 10 + chunk[1]) as u16,
            ))
        })
        .unwrap();
        let all = ds.read_all::<u16>().unwrap();
        assert_eq!(all[[9, 6]], 22, "{}", setup.label);
        assert_eq!(all[[0, 3]], 1);
        assert_eq!(all.index_axis(Axis(0), 5)[[2]], 10);
    }
}

#[test]
fn missing_datasets_give_not_found() {
    for setup in common::all_setups() {
        assert!(
            matches!(setup.conn.dataset("nope"), Err(Error::DatasetNotFound(n)) if n == "nope")
        );
        assert!(matches!(
            setup.conn.delete_dataset("nope"),
            Err(Error::DatasetNotFound(_))
        ));
        assert!(!setup.conn.has_dataset("nope").unwrap());
    }
}

#[test]
fn collective_operations_record_timers_and_bytes() {
    for setup in common::all_setups() {
        let ds = setup
            .conn
            .create::<i32>("data", &[40, 40], &[16, 16], 0)
            .unwrap();
        ds.load(ArrayD::<i32>::zeros(IxDyn(&[40, 40])).view())
            .unwrap();
        ds.map::<i32, _>("out", |_, block| Ok(block.mapv(|v| v + 1)))
            .unwrap();
        let stats = setup.conn.timers().snapshot();
        for name in ["read", "write", "compute", "barrier"] {
            assert!(
                stats.contains_key(name),
                "{}: no {name} timer in {stats:?}",
                setup.label
            );
        }
        // load writes 9 chunks and map writes 9 more; map reads the 9 loaded ones.
        let chunk_bytes = 16 * 16 * 4;
        assert_eq!(stats["write"].bytes, 18 * chunk_bytes, "{}", setup.label);
        assert_eq!(stats["read"].bytes, 9 * chunk_bytes, "{}", setup.label);
        assert_eq!(stats["compute"].count, 9);
    }
}
