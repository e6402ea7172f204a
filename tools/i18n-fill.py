"""Put translations into the Chinese catalog: `python tools/i18n-fill.py FILE.py` where FILE
defines ZH = {msgid: translation} (a plural msgid is a (singular, plural) tuple and its
translation a tuple of forms). Entries already translated are kept unless given again."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parents[1] / "opsroom/locale/zh_CN/LC_MESSAGES/opsroom.po"


def main() -> None:
    table = runpy.run_path(sys.argv[1])["ZH"]
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="zh_CN")
    filled = 0
    for message in catalog:
        if message.id and message.id in table:
            message.string = table[message.id]
            message.flags.discard("fuzzy")
            filled += 1
    with PO.open("wb") as fh:
        write_po(fh, catalog, no_location=True, sort_output=True, ignore_obsolete=True)
    print(f"{PO}: {filled} entries filled")


if __name__ == "__main__":
    main()
