"""Package-level finishing of XlsxWriter output.

Adds workbook structure protection (which XlsxWriter cannot write) and re-zips
with fixed timestamps and member order, so identical inputs give identical bytes.
"""

from __future__ import annotations

import io
import zipfile

FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def legacy_password_hash(password: str) -> str:
    """ECMA-376 Part 4 §18.2.29 16-bit hash, as Excel and LibreOffice verify it."""
    digest = 0
    for ch in reversed(password):
        digest = ((digest >> 14) & 0x01) | ((digest << 1) & 0x7FFF)
        digest ^= ord(ch)
    digest = ((digest >> 14) & 0x01) | ((digest << 1) & 0x7FFF)
    digest ^= len(password)
    digest ^= 0xCE4B
    return f"{digest:X}"


def protect_structure(workbook_xml: bytes, password: str) -> bytes:
    """Insert <workbookProtection lockStructure="1"> where the schema wants it."""
    attrs = 'lockStructure="1"'
    if password:
        attrs = f'workbookPassword="{legacy_password_hash(password)}" ' + attrs
    tag = f"<workbookProtection {attrs}/>".encode()
    marker = b"<bookViews>"
    if marker not in workbook_xml or b"<workbookProtection" in workbook_xml:
        raise ValueError("unexpected workbook.xml layout")
    return workbook_xml.replace(marker, tag + marker, 1)


def finalize_package(data: bytes, *, password: str) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/workbook.xml":
                body = protect_structure(body, password)
            zi = zipfile.ZipInfo(info.filename, FIXED_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, body)
    return out.getvalue()
