"""Describe the machine a benchmark ran on, for the results table."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _mem_gib() -> str:
    try:
        with open("/proc/meminfo") as handle:
            kib = int(handle.readline().split()[1])
        return f"{kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown memory"


def describe_machine(packages=("numpy", "pandas", "h3", "h3ronpy", "pyproj", "sqlalchemy", "psycopg")) -> str:
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return (
        f"Machine: {_cpu_model()}, {os.cpu_count()} cores, {_mem_gib()}; {platform.system()} {platform.release()}; "
        f"Python {sys.version.split()[0]}; {', '.join(versions)}."
    )
