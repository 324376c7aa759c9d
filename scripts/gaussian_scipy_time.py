#!/usr/bin/env python3
"""Times scipy.ndimage.gaussian_filter on an N³ float32 array (uniform [0, 1)), once per
repetition, for scripts/bench-gaussian.sh. Usage: gaussian_scipy_time.py N SIGMA REPS"""
import sys
import time

import numpy as np
from scipy import ndimage

n, sigma, reps = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
x = np.random.default_rng(7).random((n, n, n), dtype=np.float32)
for _ in range(reps):
    started = time.perf_counter()
    ndimage.gaussian_filter(x, sigma, mode="reflect", truncate=4.0)
    print(f"scipy_s={time.perf_counter() - started:.6f}")
