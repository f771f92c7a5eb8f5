"""One local Spark session for every Spark test of the batch engines (they run on one xdist worker: the
`spark` group). Starting a session costs seconds and its first job more (the JVM and Python workers warm
up), so the tests share it instead of each starting and stopping its own."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from leadscore.batch.spark.run import session

    s = session("local[2]")
    yield s
    s.stop()
