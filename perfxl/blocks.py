"""Pre-deflated blocks of a sheet's XML, so that a re-merge does not render and deflate again
the rows of the submissions that did not change.

绩效指标 holds most of the consolidated workbook (60,000 rows at 2,000 submissions, two thirds of
its XML); each submission's rows depend on that submission and on the row they start at only.
Each such block is deflated on its own (a fresh compressor, ended by a sync flush), so that blocks
concatenate into one valid deflate stream; CRC-32s combine without the uncompressed bytes. The
sheet is written this way with and without a cache, so its bytes do not depend on the cache.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

_ZEROS = bytes(1 << 20)


@dataclass(frozen=True, slots=True)
class Block:
    """Raw deflate data ended by a sync flush (or, for a stream's last block, a final block)."""

    data: bytes
    size: int  # uncompressed bytes
    zcrc: int  # crc32 of the uncompressed bytes, xor that of as many zero bytes: what combining needs


@dataclass(frozen=True, slots=True)
class Linked:
    """A piece of a sheet with links as rendered (pieces.render_linked): its rows' block, and its
    <hyperlinks> element and relationships numbered from the piece's first link."""

    block: Block
    links_xml: str
    rels: tuple[tuple[str, str, str], ...]
    links: int
    overflow: bool


def deflate(raw: bytes, level: int, last: bool = False) -> Block:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    data = c.compress(raw) + c.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
    return Block(data, len(raw), zlib.crc32(raw) ^ _zero_crc(len(raw), 0))


def _zero_crc(n: int, crc: int) -> int:
    """crc32 continued over n zero bytes."""
    while n > 0:
        k = min(n, len(_ZEROS))
        crc = zlib.crc32(memoryview(_ZEROS)[:k], crc)
        n -= k
    return crc


def combine(blocks: Iterable[Block]) -> tuple[int, int]:
    """(size, crc32) of the blocks' uncompressed bytes one after the other.
    crc32 is affine: crc(A + B) = crc(zeros(|B|), crc(A)) ^ crc(zeros(|B|)) ^ crc(B)."""
    size = crc = 0
    for b in blocks:
        crc = _zero_crc(b.size, crc) ^ b.zcrc
        size += b.size
    return size, crc


def block_key(*parts: object) -> str:
    """A block's cache key: a digest of everything its bytes depend on (the caller lists them)."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8", "surrogatepass")).hexdigest()
