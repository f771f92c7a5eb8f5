"""The duplicate check's NumPy <-> Arrow conversions made from buffers (`batch/duckdb/arrays.py`)."""

from __future__ import annotations

from leadscore.batch.duckdb import arrays


def test_numpy_and_arrow_conversions_keep_values_and_slices() -> None:
    import numpy as np
    import pyarrow as pa

    bits = np.array([True, False, True, True, False, False, True, False, True, True, False], bool)
    arrow = arrays.arrow_bools(bits)
    assert arrow.to_pylist() == bits.tolist()
    assert arrays.numpy_bools(arrow.slice(3, 7)).tolist() == bits[3:10].tolist()  # an offset inside a byte
    assert arrays.numpy_bools(arrow.slice(11, 0)).tolist() == []
    assert arrays.arrow_int64(np.array([5, -1, 1 << 41], np.int64)[::2]).to_pylist() == [5, 1 << 41]
    texts = pa.array(["a", "", "bc"]).slice(1)
    assert arrays.filled(texts).to_pylist() == [False, True]
