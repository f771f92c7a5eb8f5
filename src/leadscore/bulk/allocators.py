"""Allocator settings for the batch engine's child processes (`programs.spawn`): the store readers, the
processes that prepare the parts of a lifecycle apply, the writer.

A part's arrays, DuckDB's intermediates and Arrow's buffers are freed when the part ends and the same
sizes are asked for again by the next part. Returned to the system in between (glibc trims the top of
its heap and unmaps its large blocks; DuckDB's jemalloc purges dirty pages after a second), they are
zeroed and mapped again page by page: at 100,000 leads x 50 events in 10 parts, 2.0M minor page faults
and 9.4 of the apply's 48 CPU s in the kernel. Each process here is short-lived and bounded by its part,
so keeping what it freed costs little memory beyond its peak. Measured there (three pairs of applies run
side by side): the minor faults -15 %, the system time -0.6 to -0.9 s, the largest process's peak RSS +11 %
(`benchmarks/results/store_rescore.md`); at 1M leads in parts of 100,000 the minor faults 8.8M -> 6.4M
and the largest process's peak 2.07 -> 2.45 GiB (one run each). Transparent huge pages (glibc's
`hugetlb`, jemalloc's `thp`) halved the faults but cost more system time: not set.

Set through the environment, which glibc and DuckDB's jemalloc read once, when the process starts:
never for the apply's own process (started before), and never over a value the user set.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ALLOCATOR_ENV", "allocator_env"]

ALLOCATOR_ENV = {
    # glibc: blocks up to 32 MiB (its largest threshold) from the heap, and the heap's top kept up to
    # 1 GiB instead of being trimmed back as soon as 128 KiB are free
    "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824",
    # DuckDB's jemalloc (its own prefix): freed pages kept for reuse, not purged on a timer; DuckDB's
    # explicit flush of a large task (`allocator_flush_threshold`) still returns them
    "DUCKDB_JE_MALLOC_CONF": "dirty_decay_ms:-1",
}


def allocator_env(env: Mapping[str, str]) -> dict[str, str]:
    """The settings of `ALLOCATOR_ENV` that `env` (a child's environment) does not set itself."""
    return {k: v for k, v in ALLOCATOR_ENV.items() if k not in env}
