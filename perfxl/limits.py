"""Limits on untrusted input, so that no file can exhaust memory or time.

Defaults suit real forms (a filled template is 30–80 KB) with a wide margin.
Override with environment variables (documented in the README), which also
reach worker processes of a parallel merge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MB = 1024 * 1024


def _env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True, kw_only=True)
class Limits:
    max_file_bytes: int = 20 * MB  # PERFXL_MAX_FILE_MB
    max_inflated_bytes: int = 200 * MB  # PERFXL_MAX_INFLATED_MB: all zip members, uncompressed
    max_ratio: float = 200.0  # PERFXL_MAX_RATIO: uncompressed / compressed size of one member
    max_part_bytes: int = 20 * MB  # PERFXL_MAX_PART_MB: one sheet's XML, uncompressed
    max_rows: int = 5000  # PERFXL_MAX_ROWS: rows read per sheet
    max_cell_chars: int = 32767  # PERFXL_MAX_CELL_CHARS: Excel's own limit

    @classmethod
    def from_env(cls) -> Limits:
        return cls(
            max_file_bytes=int(_env("PERFXL_MAX_FILE_MB", 20) * MB),
            max_inflated_bytes=int(_env("PERFXL_MAX_INFLATED_MB", 200) * MB),
            max_ratio=_env("PERFXL_MAX_RATIO", 200.0),
            max_part_bytes=int(_env("PERFXL_MAX_PART_MB", 20) * MB),
            max_rows=int(_env("PERFXL_MAX_ROWS", 5000)),
            max_cell_chars=int(_env("PERFXL_MAX_CELL_CHARS", 32767)),
        )
