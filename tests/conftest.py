"""Test setup: 8 fake CPU devices (set before JAX starts), a shared compilation cache, data-dir helpers."""

import os
import tempfile

os.environ.setdefault("JAX_NUM_CPU_DEVICES", "8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["GENJAX_CACHE_DIR"] = tempfile.mkdtemp(prefix="genjax-test-cache-")  # never the user's cache
# Tests compile far more than they run, and one malloc arena makes XLA's parallel compiles ~30% slower: keep
# glibc's defaults here and in the CLI subprocesses (tests/test_allocator.py checks the settings on its own).
os.environ["GENJAX_SYSTEM_MALLOC"] = "1"

import jax  # noqa: E402
import pytest  # noqa: E402

from genjax.data import sources  # noqa: E402


def pytest_configure(config):
  cache = config.cache.mkdir("jax_compilation_cache") if getattr(config, "cache", None) else None
  if cache:
    jax.config.update("jax_compilation_cache_dir", str(cache))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


@pytest.fixture
def shared_data():
  """The real datasets folder; tests that need it skip cleanly where it is absent."""
  d = sources.data_dir()
  if d is None or not d.is_dir():
    pytest.skip("real datasets not found: set GENJAX_DATA_DIR (defaults to ../shared/data)")
  return d


@pytest.fixture(scope="session")
def repo_root():
  return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
