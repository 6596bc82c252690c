"""Copy-on-write faults taken ahead of demand: a spare (see `zygote._Spares`) writes, before it is
given an attempt, the pages its fork server's attempts have been seen to write.

Why: a forked attempt's largest cost after the fork is its page faults. It writes (reference
counts, the allocator's free lists, the stack) to ~500 pages of its template's heap for a leaf
task and ~1,300 for a task that calls others, and each write to a page shared with the template
is a fault that copies the page: several microseconds each on this VM, one after another on the
attempt's path. A spare waits idle anyway, so it can take those faults while it waits.

Which pages: the first attempts handed to spares tell their fork server, as they end, the pages
of its memory they have written (`written`: present and mapped by this process alone, from
/proc/self/pagemap), and the fork server keeps the pages every one of them wrote (`common`), so
a bundle whose actions run different tasks pre-faults only what they share. The next spares make
those pages their own with madvise(MADV_POPULATE_WRITE) (Linux 5.14 and later: the kernel breaks
the sharing without changing a byte; elsewhere nothing is done), limited to the fork server's
private writable mappings and to `MAX_PAGES` (`plan`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import struct

PAGE = os.sysconf("SC_PAGE_SIZE")

#: The most pages a spare pre-faults (64 MiB): what an attempt's report can cost its siblings.
MAX_PAGES = 16384

#: The most ranges one report carries (a datagram's worth).
MAX_RANGES = 4096

_MADV_POPULATE_WRITE = 23
# pagemap: bit 63 "present", bit 56 "exclusively mapped"; both in an entry's high byte (little-endian)
_WRITTEN = bytes(0x31 if b & 0x81 == 0x81 else 0x30 for b in range(256))
_RUN = re.compile(b"1+")

Ranges = list[tuple[int, int]]  # [start, end) page addresses, sorted, not overlapping


def _private_writable() -> Ranges:
    """This process's private writable mappings (heap, anonymous memory, stacks, data segments)."""
    spans = []
    with open("/proc/self/maps") as fh:
        for line in fh:
            parts = line.split(maxsplit=5)
            if len(parts) < 2 or parts[1][:2] != "rw" or parts[1][3:4] != "p":
                continue
            if len(parts) > 5 and parts[5].strip() in ("[vvar]", "[vdso]", "[vsyscall]"):
                continue
            lo, hi = parts[0].split("-")
            spans.append((int(lo, 16), int(hi, 16)))
    return spans


def written() -> Ranges:
    """The pages of this process's private writable memory that it alone maps: in a forked
    process, what it has written since the fork (copied from its parent, or first touched)."""
    out: Ranges = []
    try:
        fd = os.open("/proc/self/pagemap", os.O_RDONLY)
    except OSError:
        return out
    try:
        for lo, hi in _private_writable():
            entries = os.pread(fd, (hi - lo) // PAGE * 8, lo // PAGE * 8)
            flags = entries[7::8].translate(_WRITTEN)
            out.extend((lo + m.start() * PAGE, lo + m.end() * PAGE) for m in _RUN.finditer(flags))
    except OSError:
        return []
    finally:
        os.close(fd)
    return out


def common(a: Ranges, b: Ranges) -> Ranges:
    """The pages in both."""
    out: Ranges = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def pack(ranges: Ranges) -> bytes:
    flat = [v for span in ranges[:MAX_RANGES] for v in span]
    return struct.pack(f"{len(flat)}Q", *flat)


def unpack(data: bytes) -> Ranges | None:
    """The ranges a report carries, or None for one that is not a report (it is ignored)."""
    if not data or len(data) % 16 or len(data) > MAX_RANGES * 16:
        return None
    flat = struct.unpack(f"{len(data) // 8}Q", data)
    ranges = list(zip(flat[::2], flat[1::2]))
    if any(hi <= lo or lo % PAGE or hi % PAGE for lo, hi in ranges) or ranges != sorted(ranges):
        return None
    return ranges


def plan(ranges: Ranges) -> Ranges:
    """What of `ranges` a spare forked from this process can pre-fault: the part within its
    private writable mappings, at most `MAX_PAGES`. Computed once by the fork server when it
    learns the pages (its children share its mappings), so a spare only makes the system calls."""
    out: Ranges = []
    budget = MAX_PAGES * PAGE
    for lo, hi in common(ranges, _private_writable()):
        hi = min(hi, lo + budget)
        out.append((lo, hi))
        budget -= hi - lo
        if budget <= 0:
            break
    return out


_madvise = None


def prefault(ranges: Ranges) -> int:
    """Take the write faults of `ranges` (a `plan`) now: the pages pre-faulted. A range no longer
    mapped as it was is skipped; on a kernel without MADV_POPULATE_WRITE nothing is done."""
    global _madvise
    if not ranges:
        return 0
    if _madvise is None:
        libc = ctypes.CDLL(None, use_errno=True)
        _madvise = libc.madvise
        _madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    done = 0
    for lo, hi in ranges:
        if _madvise(lo, hi - lo, _MADV_POPULATE_WRITE) == 0:
            done += hi - lo
        elif ctypes.get_errno() == errno.EINVAL:  # a kernel without it: nothing more to try
            break
    return done // PAGE
