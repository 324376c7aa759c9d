"""Checks a gaussian-bench result.h5 with h5py, as a DosNa-era script would read it.

Usage: check_result.py RESULT_H5 BACKEND RANKS N_DATA_SIZES N_CHUNK_SIZES NTEST
Exits non-zero with the failed check on stderr.
"""
import math
import sys

import h5py
import numpy as np

path, backend, ranks, nds, ncs, ntest = sys.argv[1:]
ranks, nds, ncs, ntest = int(ranks), int(nds), int(ncs), int(ntest)

with h5py.File(path, "r") as f:
    # DosNa's reading loop: the members of /<backend> are rank counts.
    assert [int(n) for n in f[backend]] == [ranks], list(f[backend])
    times = f[f"{backend}/{ranks}"]
    assert times.dtype == np.float32, times.dtype
    assert times.shape == (nds, ncs, 3, ntest), times.shape
    for k, label in enumerate(["Data Size", "Chunk Size", "Tests", "# Tests"]):
        assert times.attrs[f"axis{k}_label"] == label, times.attrs[f"axis{k}_label"]
    assert times.attrs["axis0_value"].dtype == np.int64
    assert times.attrs["axis1_value"].dtype == np.int64
    kinds = times.attrs["axis2_value"]
    assert kinds.dtype == np.dtype("S4"), kinds.dtype
    assert list(kinds) == [b"DATA", b"3D", b"1D"], kinds
    assert list(times.attrs["axis3_value"]) == list(range(ntest))
    assert times.attrs["units"] == "seconds"
    data_sizes = list(times.attrs["axis0_value"])
    chunk_sizes = list(times.attrs["axis1_value"])
    values = times[()]
    for i, ds in enumerate(data_sizes):
        for j, cs in enumerate(chunk_sizes):
            cell = values[i, j]
            if cs > ds:
                assert np.isnan(cell).all(), (ds, cs, cell)
            else:
                assert (cell > 0).all(), (ds, cs, cell)

    run = f[f"chunkwise/{backend}/{ranks}"]
    assert run.attrs["format"] == "chunkwise gaussian-bench results 2"
    assert int(run.attrs["ranks"]) == ranks
    assert int(run.attrs["ntest"]) == ntest
    assert isinstance(run.attrs["sigma"], np.floating) and math.isfinite(run.attrs["sigma"])
    expected_units = {
        "delete": "seconds",
        "timer_seconds": "seconds",
        "timer_bytes": "bytes",
    }
    for name, dataset in run.items():
        # Every axis named, with one value per index, and the units.
        for k, n in enumerate(dataset.shape):
            label = dataset.attrs[f"axis{k}_label"]
            assert isinstance(label, str) and label, (name, k, label)
            assert len(dataset.attrs[f"axis{k}_value"]) == n, (name, k)
        assert "units" in dataset.attrs, name
        if name in expected_units:
            assert dataset.attrs["units"] == expected_units[name], (name, dataset.attrs["units"])
    assert sorted(run) == ["delete", "timer_bytes", "timer_seconds", "verify"], sorted(run)
    assert list(run["timer_seconds"].attrs["axis5_value"]) == ["read", "compute", "write", "barrier"]
    assert list(run["timer_bytes"].attrs["axis3_value"]) == ["load", "3D", "1D"]
    assert list(run["timer_bytes"].attrs["axis4_value"]) == list(range(ranks))
    verify = run["verify"][()]
    for i, ds in enumerate(data_sizes):
        for j, cs in enumerate(chunk_sizes):
            if cs <= ds:
                assert verify[i, j, 0] == 0.0, verify[i, j]
print("ok")
