"""Tool failures (not data problems: those are Findings)."""

from __future__ import annotations

import errno


class PerfxlError(Exception):
    """Base of every error the CLI turns into exit code 2 with a Chinese message."""


class SpecError(PerfxlError):
    """A form spec or frame is inconsistent."""


class CatalogError(PerfxlError):
    """The catalog file cannot be used (unreadable, missing columns, bad rows)."""


class OutputError(PerfxlError):
    """An output cannot be written where asked."""


_OS_REASONS = {
    errno.ENOENT: "文件不存在（可能已被移走或删除，或是指向不存在文件的链接）",
    errno.EACCES: "没有读取权限",
    errno.EPERM: "操作系统不允许读取",
    errno.ELOOP: "符号链接循环（链接最终指向自身）",
    errno.EISDIR: "这是文件夹，不是文件",
    errno.ENOTDIR: "路径中有一部分不是文件夹",
    errno.ENAMETOOLONG: "文件名或路径过长",
    errno.EIO: "磁盘读写错误",
    errno.EMFILE: "同时打开的文件过多",
    errno.ENOSPC: "磁盘空间不足",
    errno.EROFS: "磁盘为只读",
    errno.EBUSY: "文件正被其他程序占用",
}


def os_reason(exc: BaseException) -> str:
    """An operating-system error in Chinese: its English text would end up in a Chinese
    report (and differs between systems)."""
    if isinstance(exc, OSError) and exc.errno in _OS_REASONS:
        return _OS_REASONS[exc.errno]
    if isinstance(exc, RecursionError) or (isinstance(exc, RuntimeError) and "ymlink" in str(exc)):
        return _OS_REASONS[errno.ELOOP]
    if isinstance(exc, OSError):
        return f"系统错误（错误号 {exc.errno}）" if exc.errno else "系统错误"
    return f"程序错误（{type(exc).__name__}）"
