"""Tool failures (not data problems: those are Findings)."""

from __future__ import annotations


class PerfxlError(Exception):
    """Base of every error the CLI turns into exit code 2 with a Chinese message."""


class SpecError(PerfxlError):
    """A form spec or frame is inconsistent."""


class CatalogError(PerfxlError):
    """The catalog file cannot be used (unreadable, missing columns, bad rows)."""


class OutputError(PerfxlError):
    """An output cannot be written where asked."""
