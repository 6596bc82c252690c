"""A forked process's written pages read from the real kernel's pagemap, and write faults taken
ahead with madvise, in real forked children (results come back on a pipe)."""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import resource
from typing import Any, Callable

import pytest

from flyte_jupyter.backend.plugins.local import prefault

PAGE = prefault.PAGE


def _in_child(fn: Callable[[], Any]) -> Any:
    """fn() in a forked child; its JSON result (or its exception's text) back here."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            out = json.dumps({"ok": fn()})
        except BaseException as exc:  # noqa: BLE001
            out = json.dumps({"error": repr(exc)})
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as fh:
        msg = json.loads(fh.read())
    os.waitpid(pid, 0)
    assert "error" not in msg, msg["error"]
    return msg["ok"]


@pytest.fixture
def shared_pages() -> tuple[bytearray, int]:
    """64 pages of this process's heap, written (so present), and the first one's address."""
    buf = bytearray(66 * PAGE)
    for i in range(0, len(buf), PAGE):
        buf[i] = 1
    start = (ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf)) + PAGE - 1) // PAGE * PAGE
    return buf, start


def _offset(buf: bytearray, address: int) -> int:
    return address - ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))


def test_a_forked_process_reports_the_pages_it_wrote_and_not_those_it_shares(shared_pages) -> None:  # type: ignore[no-untyped-def]
    buf, start = shared_pages

    def child() -> list[int]:
        for page in range(10, 20):
            buf[_offset(buf, start + page * PAGE) + 5] = 2
        inside = prefault.common(prefault.written(), [(start, start + 64 * PAGE)])
        return sorted({(a - start) // PAGE + i for a, b in inside for i in range((b - a) // PAGE)})

    assert _in_child(child) == list(range(10, 20))


def test_prefault_takes_the_write_faults_ahead_and_changes_no_byte(shared_pages) -> None:  # type: ignore[no-untyped-def]
    buf, start = shared_pages
    for page in range(64):
        buf[_offset(buf, start + page * PAGE) + 7] = page

    def child() -> dict[str, Any]:
        done = prefault.prefault(prefault.plan([(start, start + 30 * PAGE)]))
        unchanged = all(buf[_offset(buf, start + p * PAGE) + 7] == p for p in range(64))

        def faults_writing(pages: range) -> int:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            for page in pages:
                buf[_offset(buf, start + page * PAGE) + 9] = 3
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

        return {"done": done, "unchanged": unchanged, "ahead": faults_writing(range(30)),
                "not_ahead": faults_writing(range(32, 62))}

    out = _in_child(child)
    assert out["done"] == 30 and out["unchanged"]
    assert out["ahead"] <= 8, out  # the interpreter's own few (frames, integers)
    assert out["not_ahead"] >= 30, out


def test_a_plan_stays_in_private_writable_memory_and_within_its_budget() -> None:
    readonly = mmap.mmap(-1, 16 * PAGE, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
    big = mmap.mmap(-1, (prefault.MAX_PAGES + 4096) * PAGE, flags=mmap.MAP_PRIVATE)  # writable, never touched
    ro_start = _address_of_mmap(readonly)
    big_start = _address_of_mmap(big)

    def child() -> dict[str, int]:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        unmapped = prefault.prefault(prefault.plan([(PAGE, 2 * PAGE)]))  # nothing is mapped at the second page
        read_only = prefault.prefault(prefault.plan([(ro_start, ro_start + 16 * PAGE)]))
        capped = prefault.prefault(prefault.plan([(big_start, big_start + len(big))]))
        stale = prefault.prefault([(PAGE, 2 * PAGE)])  # a plan made before that memory went: skipped
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss
        return {"unmapped": unmapped, "read_only": read_only, "capped": capped, "stale": stale, "grown_kib": grown}

    try:
        out = _in_child(child)
    finally:
        readonly.close()
        big.close()
    assert out["unmapped"] == 0 and out["read_only"] == 0 and out["stale"] == 0, out
    assert out["capped"] == prefault.MAX_PAGES, out
    assert out["grown_kib"] <= (prefault.MAX_PAGES * PAGE) // 1024 + 4096, out


def _address_of_mmap(m: mmap.mmap) -> int:
    """A mapping's start: the line of /proc/self/maps of exactly its size that is newest."""
    size = len(m)
    with open("/proc/self/maps") as fh:
        spans = [tuple(int(x, 16) for x in line.split()[0].split("-")) for line in fh]
    for lo, hi in reversed(spans):
        if hi - lo == size:
            return lo
    raise AssertionError("mapping not found")


@pytest.mark.parametrize("data", [
    b"",  # empty
    b"\0" * 15,  # not whole pairs
    (2 * PAGE).to_bytes(8, "little") + PAGE.to_bytes(8, "little"),  # end before start
    (PAGE + 1).to_bytes(8, "little") + (2 * PAGE).to_bytes(8, "little"),  # not page-aligned
    b"".join(v.to_bytes(8, "little") for v in (4 * PAGE, 5 * PAGE, PAGE, 2 * PAGE)),  # not sorted
    b"\0" * ((prefault.MAX_RANGES + 1) * 16),  # too many
])
def test_a_report_that_is_not_one_is_ignored(data: bytes) -> None:
    assert prefault.unpack(data) is None


def test_a_report_round_trips_and_common_pages_are_the_intersection() -> None:
    a = [(PAGE, 4 * PAGE), (10 * PAGE, 12 * PAGE)]
    b = [(2 * PAGE, 11 * PAGE)]
    assert prefault.unpack(prefault.pack(a)) == a
    assert prefault.common(a, b) == [(2 * PAGE, 4 * PAGE), (10 * PAGE, 11 * PAGE)]
