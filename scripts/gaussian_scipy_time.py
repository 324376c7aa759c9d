#!/usr/bin/env python3
"""Times scipy.ndimage.gaussian_filter on an N³ float32 array (uniform [0, 1)), returning a new
array and into an existing one (output=), once each per repetition, for
scripts/bench-gaussian.sh. Usage: gaussian_scipy_time.py N SIGMA REPS"""
import sys
import time

import numpy as np
from scipy import ndimage

n, sigma, reps = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
x = np.random.default_rng(7).random((n, n, n), dtype=np.float32)
out = np.empty_like(x)
for _ in range(reps):
    started = time.perf_counter()
    ndimage.gaussian_filter(x, sigma, mode="reflect", truncate=4.0)
    allocating = time.perf_counter() - started
    started = time.perf_counter()
    ndimage.gaussian_filter(x, sigma, output=out, mode="reflect", truncate=4.0)
    into = time.perf_counter() - started
    print(f"scipy_s={allocating:.6f} scipy_into_s={into:.6f}")
