#!/usr/bin/env python3
"""How fast this machine writes new files into the page cache and reads them back: the floor
under gaussian-bench's load and 3x1D cells with large chunks (BENCHMARKS.md).

    scripts/page_cache_write.py [DIR]

Prints the median of 15 writes of one 8 MiB file (create, write, close) and of 15 reads of it;
the median of 30 writes over an 8 MiB file still in the page cache (what the hdf5 store's spare
files do), from the same buffer and from one of 11 others (not in the CPU's caches), beside 30
writes of new files; then 320 MiB written as forty 8 MiB files by one thread and by two
threads, three times each (the first round also shows memory the machine touches for the first
time)."""
import os
import statistics
import sys
import tempfile
import threading
import time

MIB = 1 << 20


def timed(action):
    """Seconds `action()` took."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def write_file(path, data, offset=None):
    """Writes `data` to `path`: a new file (offset None) or over the file at `offset`."""
    if offset is None:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC)
        os.write(fd, data)
    else:
        fd = os.open(path, os.O_WRONLY)
        os.pwrite(fd, data, offset)
    os.close(fd)


def read_file(path):
    fd = os.open(path, os.O_RDONLY)
    os.read(fd, 8 * MIB)
    os.close(fd)


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else None
    with tempfile.TemporaryDirectory(dir=base) as work:
        data = os.urandom(8 * MIB)
        writes, reads = [], []
        for i in range(15):
            path = os.path.join(work, f"one{i}")
            writes.append(timed(lambda: write_file(path, data)))
            reads.append(timed(lambda: read_file(path)))
            os.unlink(path)
        print(f"one 8 MiB file: write {statistics.median(writes) * 1e3:.2f} ms, "
              f"read {statistics.median(reads) * 1e3:.2f} ms (medians of 15)")

        others = [bytearray(os.urandom(8 * MIB)) for _ in range(11)]
        kept = os.path.join(work, "kept")
        with open(kept, "wb") as f:
            f.write(data)
        new, same, other = [], [], []
        for i in range(30):
            path = os.path.join(work, f"new{i}")
            new.append(timed(lambda: write_file(path, data)))
            os.unlink(path)
            for source, times in ((data, same), (others[i % 11], other)):
                times.append(timed(lambda: write_file(kept, source, 0)))
        os.unlink(kept)
        del others
        print(f"8 MiB: new file {statistics.median(new) * 1e3:.2f} ms, over a cached file "
              f"{statistics.median(same) * 1e3:.2f} ms (same buffer), "
              f"{statistics.median(other) * 1e3:.2f} ms (another buffer) (medians of 30)")

        def writer(tag, count):
            for i in range(count):
                write_file(os.path.join(work, f"{tag}_{i}"), data)

        def clear():
            for name in os.listdir(work):
                os.unlink(os.path.join(work, name))

        for round_ in range(3):
            started = time.perf_counter()
            writer("a", 40)
            one = time.perf_counter() - started
            clear()
            threads = [threading.Thread(target=writer, args=(k, 20)) for k in range(2)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            two = time.perf_counter() - started
            clear()
            print(f"round {round_ + 1}: 320 MiB in 8 MiB files, one thread {one:.3f} s "
                  f"({320 * MIB / one / 1e9:.2f} GB/s), two threads {two:.3f} s "
                  f"({320 * MIB / two / 1e9:.2f} GB/s)")


if __name__ == "__main__":
    main()
