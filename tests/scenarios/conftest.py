"""Fixtures for the Python acceptance scenarios: a real almacen per test
module, started by the boto3 suite's harness (tests/python/conftest.py),
loaded here under another name so the two conftest files do not clash."""

from __future__ import annotations

import importlib.util
import signal
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location(
    "almacen_harness", HERE.parent / "python" / "conftest.py"
)
harness = importlib.util.module_from_spec(_spec)
sys.modules["almacen_harness"] = harness
_spec.loader.exec_module(harness)
# The seed apps' own code lives in apps/, imported as the apps import it.
sys.path.insert(0, str(HERE / "apps"))


@pytest.fixture(autouse=True)
def _watchdog():
    """Fail (instead of hang) a scenario that runs longer than the harness allows."""

    def on_alarm(signum, frame):
        raise TimeoutError(f"scenario exceeded {harness.TEST_TIMEOUT}s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(harness.TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def almacen():
    """A started server with the seed's credentials (minioadmin/minioadmin)."""
    srv = harness.AlmacenServer(access_key="minioadmin", secret_key="minioadmin")
    try:
        srv.start()
    except harness.ServerStartError:
        srv.cleanup()
        raise
    yield srv
    srv.cleanup()
