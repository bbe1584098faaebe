"""Free RAM, for `--tile auto` on the CPU (engines on a GPU ask their own device)."""

from __future__ import annotations

import os


def free_ram() -> int | None:
    """Bytes of RAM available to new allocations; None when unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
