"""NumPy <-> Arrow conversions of the duplicate check (`id_order.py`, `id_late.py`, `id_files.py`), made
from buffers.

pyarrow's conversion of Python and NumPy objects (`pa.array`, `pc.greater(x, 0)`, `to_numpy` of a
Boolean array, `take` with a NumPy index) imports pandas on its first use: 0.15-0.19 CPU s and about
100 MB of a run that reads no pandas at all. The arrays converted here are NULL-free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


def arrow_int64(values: np.ndarray) -> pa.Array:
    """NumPy integers as an Arrow int64 array (one copy at most)."""
    import numpy as np
    import pyarrow as pa

    data = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])


def arrow_bools(values: np.ndarray) -> pa.Array:
    """A NumPy Boolean array as an Arrow one (bits packed)."""
    import numpy as np
    import pyarrow as pa

    packed = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(packed)])


def numpy_bools(values: pa.Array) -> np.ndarray:
    """A NULL-free Arrow Boolean array as a NumPy one (bits unpacked)."""
    import numpy as np

    assert not values.null_count
    if not len(values):
        return np.zeros(0, bool)
    bits = np.frombuffer(values.buffers()[1], np.uint8)
    return np.unpackbits(bits, bitorder="little")[values.offset : values.offset + len(values)].astype(bool)


def filled(ids: pa.Array) -> pa.Array:
    """Which ids of a NULL-free text array are not empty (an empty id is missing in the views)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(pc.binary_length(ids), pa.bool_())
