"""Timing and memory: round-robin medians, ratios per round, tracemalloc peaks.

Each candidate is warmed up, then given enough inner iterations that one sample lasts
about `target` seconds.  Every round times each candidate once (the starting candidate
rotates from round to round, so none always runs first), so a slow spell on the shared
machine hits all candidates of a round alike; ratios are taken within a round and then
medianed.  The collector is off inside a sample and runs between samples as usual (a
full gc.collect() per round costs ~0.2 s once JAX and PyTorch are imported).
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc


def _sample(fn, inner):
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        return (time.perf_counter() - start) / inner
    finally:
        if gc_was_enabled:
            gc.enable()


def calibrate(fn, target=0.01, warmup=2):
    """Inner iterations so that one sample of `fn` lasts about `target` seconds."""
    for _ in range(warmup):
        fn()
    inner = 1
    while True:
        elapsed = _sample(fn, inner) * inner
        if elapsed >= target / 2 or inner >= 1 << 20:
            return max(1, min(1 << 20, round(inner * target / max(elapsed, 1e-9))))
        inner *= 4 if elapsed < target / 20 else 2


def round_robin(candidates, rounds=9, target=0.01):
    """{name: [seconds per call, one per round]} for {name: zero-argument callable}."""
    names = list(candidates)
    inner = {name: calibrate(candidates[name], target) for name in names}
    times = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            times[name].append(_sample(candidates[name], inner[name]))
    return times


def median(values):
    return statistics.median(values)


def ratio(times, a, b):
    """Median over rounds of times[a][r] / times[b][r]."""
    return statistics.median(x / y for x, y in zip(times[a], times[b]))


def difference(times, a, b):
    """Median over rounds of times[a][r] - times[b][r]."""
    return statistics.median(x - y for x, y in zip(times[a], times[b]))


def memory(fn):
    """(peak traced allocation, bytes above what was live before, during one call of fn;
    the bytes its result holds: what is still allocated once it returned).
    NumPy reports its data buffers to tracemalloc, so array temporaries count."""
    fn()  # warm: first-call allocations (caches, compiled code) are not the workload's
    gc.collect()
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        kept, peak = tracemalloc.get_traced_memory()
        del result
        return peak - base, kept - base
    finally:
        if started:
            tracemalloc.stop()
