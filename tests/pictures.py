"""The README's pictures: which ones there are, and what each records about how it was made.

tests/browser/test_docs_pictures.py takes them from the running app and, with
OPSROOM_UPDATE_DOCS=1, writes them into docs/ with PNG text chunks naming the test, the rules
shown and the time zone; tests/test_readme_pictures.py checks the README against them.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = "tests/browser/test_docs_pictures.py"
# every picture the README shows, and the test that takes it
PICTURES = {
    "docs/overview.png": f"{GENERATOR}::test_readme_overview_picture",
    "docs/zh-CN-overview.png": f"{GENERATOR}::test_readme_overview_picture[zh-CN]",
}
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def readme_pictures(readme: Path = ROOT / "README.md") -> list[str]:
    """The local images the README shows, as written in it (`![alt](path)`)."""
    found = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", readme.read_text(encoding="utf-8"))
    return [p for p in found if "://" not in p]


def with_text(png: bytes, text: dict[str, str]) -> bytes:
    """The PNG with a tEXt chunk per item, placed after its header chunk."""
    if not png.startswith(_SIGNATURE):
        raise ValueError("not a PNG")
    (length,) = struct.unpack(">I", png[8:12])
    cut = 8 + 12 + length  # signature, then IHDR (length, type, data, crc)
    chunks = b""
    for key, value in text.items():
        body = key.encode("latin-1") + b"\0" + value.encode("latin-1")
        crc = zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF
        chunks += struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", crc)
    return png[:cut] + chunks + png[cut:]


def read_text(png: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG (of a key given twice, the first: with_text puts new ones first)."""
    if not png.startswith(_SIGNATURE):
        raise ValueError("not a PNG")
    out, at = {}, 8
    while at + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[at : at + 8])
        if kind == b"tEXt":
            key, _, value = png[at + 8 : at + 8 + length].partition(b"\0")
            out.setdefault(key.decode("latin-1"), value.decode("latin-1"))  # first one wins
        at += 12 + length
    return out
