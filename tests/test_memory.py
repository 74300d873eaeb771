"""The array buffer cache (pyfastdl.memory, cpp/src/array_cache.cpp) as NumPy's allocator: reuse by
size, zeroed reuse for np.zeros, the limit and its eviction order, realloc, threads, fork, and the
environment variable."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import memory

try:
    from numpy._core.multiarray import get_handler_name
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import get_handler_name

BIG = 1 << 20  # bytes: cacheable (256 KiB or more)


@pytest.fixture
def cache():
    """A cache installed in this context, empty, with a 64 MiB limit; the defaults restored after."""
    assert memory.install(64 << 20)
    memory.empty_cache()
    yield memory
    memory.set_limit(memory.default_limit())


def test_import_installs_the_cache_as_numpys_allocator():
    assert get_handler_name() == "pyfastdl_array_cache"
    assert get_handler_name(np.empty(BIG, np.uint8)) == "pyfastdl_array_cache"


def test_install_in_another_thread_covers_its_context():
    """NumPy keeps the allocator in a contextvar: a new thread starts with NumPy's own, and
    install() there puts the cache in force for it too (backed by the same allocator)."""
    seen = []

    def work():
        seen.append(get_handler_name())
        seen.append(memory.install(memory.default_limit()))
        seen.append(get_handler_name())
        a = np.ones(BIG, np.uint8)
        seen.append(get_handler_name(a))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == ["default_allocator", True, "pyfastdl_array_cache", "pyfastdl_array_cache"]


def test_a_freed_buffer_serves_the_next_request_of_its_size(cache):
    a = np.empty(BIG // 4, np.float32)
    address = a.ctypes.data
    del a
    before = cache.stats()
    assert before["cached_blocks"] == 1 and before["cached_bytes"] == BIG
    b = np.empty(BIG // 4 - 3, np.float32)  # rounds up to the same 4 KiB multiple
    assert b.ctypes.data == address
    after = cache.stats()
    assert after["hits"] == before["hits"] + 1 and after["cached_bytes"] == 0


def test_zeros_from_a_reused_buffer_are_zero(cache):
    a = np.full(BIG // 8, 7.5)
    address = a.ctypes.data
    del a
    z = np.zeros(BIG // 8)
    assert z.ctypes.data == address  # the dirty block came back ...
    assert not z.any()  # ... zeroed


def test_small_buffers_are_not_cached(cache):
    for _ in range(10):
        a = np.empty(1000, np.float64)
        del a
    assert cache.stats()["cached_blocks"] == 0


def test_the_limit_evicts_the_least_recently_freed(cache):
    cache.set_limit(3 * BIG)
    arrays = [np.full(BIG, i, np.uint8) for i in range(3)]
    addresses = [a.ctypes.data for a in arrays]
    while arrays:  # freed in order 0, 1, 2
        del arrays[0]
    assert cache.stats()["cached_bytes"] == 3 * BIG
    extra = np.empty(2 * BIG, np.uint8)
    del extra  # 2 MiB more: blocks 0 and 1, the oldest, go
    assert cache.stats()["cached_bytes"] == 3 * BIG
    got = np.empty(BIG, np.uint8)
    assert got.ctypes.data == addresses[2]
    del got
    cache.set_limit(0)
    assert cache.stats()["cached_bytes"] == 0
    a = np.empty(BIG, np.uint8)
    del a
    assert cache.stats()["cached_blocks"] == 0  # over the limit: released at once


def test_empty_cache_releases_everything(cache):
    arrays = [np.empty(BIG + i * 8192, np.uint8) for i in range(4)]
    del arrays
    assert cache.stats()["cached_blocks"] == 4
    cache.empty_cache()
    assert cache.stats()["cached_blocks"] == 0 and cache.stats()["cached_bytes"] == 0


def test_resize_reallocates_and_keeps_the_values(cache):
    a = np.arange(BIG // 8, dtype=np.float64)
    a.resize(BIG // 4, refcheck=False)  # ndarray.resize: the allocator's realloc
    np.testing.assert_array_equal(a[: BIG // 8], np.arange(BIG // 8))
    assert not a[BIG // 8 :].any()
    a.resize(100, refcheck=False)  # to a size below the cacheable ones
    np.testing.assert_array_equal(a, np.arange(100))
    del a
    b = np.empty(BIG // 4 * 8 + 1, np.uint8)  # the cache stays consistent afterwards
    b[:] = 1
    assert b.sum() == b.size


def test_threads_allocate_and_free_concurrently(cache):
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(200):
                n = int(rng.integers(BIG // 8, 3 * BIG // 8))
                a = np.full(n, seed, np.float64)  # the default context: NumPy's allocator ...
                if not (a == seed).all():
                    errors.append(seed)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    # ... while this thread allocates and frees through the cache; arrays cross threads too
    shared = [np.full(BIG, 3, np.uint8) for _ in range(8)]
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for _ in range(300):
        a = np.full(2 * BIG, 5, np.uint8)
        assert a.sum() == 5 * a.size
        if shared:
            shared.pop()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_allocates_through_the_cache(cache):
    a = np.empty(BIG, np.uint8)
    del a
    code = (
        "import os, numpy as np, pyfastdl\n"
        "a = np.empty(1 << 20, np.uint8); del a\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    b = np.full(1 << 20, 2, np.uint8)\n"
        "    os._exit(0 if b.sum() == 2 << 20 else 1)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "raise SystemExit(os.waitstatus_to_exitcode(status))\n"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_while_another_thread_allocates(cache):
    """The cache's lock is held across fork(): a child forked while another thread allocates and
    frees through the cache finds it consistent (no deadlock, no corrupt list)."""
    code = (
        "import os, threading, numpy as np, pyfastdl\n"
        "stop = False\n"
        "def churn():\n"
        "    while not stop:\n"
        "        for n in (1 << 18, 3 << 18, 5 << 18):\n"
        "            a = np.ones(n, np.uint8); del a\n"
        "t = threading.Thread(target=churn); t.start()\n"
        "bad = 0\n"
        "for _ in range(20):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        b = [np.full(n, 1, np.uint8) for n in (1 << 18, 3 << 18, 5 << 18)]\n"
        "        os._exit(0 if sum(int(x.sum()) for x in b) == 9 << 18 else 1)\n"
        "    _, status = os.waitpid(pid, 0)\n"
        "    bad += os.waitstatus_to_exitcode(status) != 0\n"
        "stop = True; t.join()\n"
        "raise SystemExit(bad)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


@pytest.mark.parametrize(
    ("value", "installed"), [("0", False), ("16", True), ("", True)], ids=["off", "16", "default"]
)
def test_the_environment_variable_sets_the_limit(value, installed):
    code = (
        "import pyfastdl as fd\n"
        "try:\n"
        "    from numpy._core.multiarray import get_handler_name\n"
        "except ImportError:\n"
        "    from numpy.core.multiarray import get_handler_name\n"
        "print(get_handler_name(), fd.memory.stats()['limit_bytes'])\n"
    )
    env = dict(os.environ, PYFASTDL_ARRAY_CACHE_MB=value)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    name, limit = out.stdout.split()
    assert (name == "pyfastdl_array_cache") == installed
    if value == "16":
        assert int(limit) == 16 << 20
    elif value == "":
        assert int(limit) == fd.memory.default_limit()


def test_bad_values_are_named_errors():
    with pytest.raises(ValueError, match=r"^\[memory.set_limit\]"):
        memory.set_limit(-1)
    with pytest.raises(ValueError, match=r"^\[memory.set_limit\]"):
        memory.set_limit(1.5)
    env = dict(os.environ, PYFASTDL_ARRAY_CACHE_MB="lots")
    out = subprocess.run(
        [sys.executable, "-c", "import pyfastdl"], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert out.returncode != 0 and "[memory] PYFASTDL_ARRAY_CACHE_MB" in out.stderr
