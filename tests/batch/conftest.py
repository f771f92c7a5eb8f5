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
    # The JVM compiles with its quick tier only (C1): the tests' jobs are a few rows each, so the JVM's
    # time goes to warming up, and the optimising tier's compiles cost more CPU than their code saves
    # (the Spark tests: 124 -> 82 CPU s, JVM included). A run of real data keeps the JVM's defaults:
    # this is the session of the tests alone (the product's `session()` starts it, unchanged).
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--driver-java-options -XX:TieredStopAtLevel=1 pyspark-shell")
    from leadscore.batch.spark.run import session

    s = session("local[2]")
    yield s
    s.stop()
