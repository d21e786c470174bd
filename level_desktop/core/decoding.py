"""Turn an input file's bytes into text without garbling it, and say what was done.

UTF-8 is the rule. A file that is UTF-8 except for a few invalid bytes is read as UTF-8 with each
invalid byte replaced by U+FFFD, and the rows holding one are reported, so nothing changes silently.
Another encoding is chosen only on evidence: a byte-order mark; the NUL pattern of UTF-16 without
one; a strict Shift JIS (cp932) or GB18030 decode whose text is mostly Japanese or Chinese; or a
single-byte code page when almost no byte sequence is valid UTF-8 (cp1252 when bytes 0x80–0x9F are
used, whose cp1252 meanings are punctuation; Latin-1 otherwise, where the two agree).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from level_desktop.core.errors import BinaryFileError

REPLACEMENT = "\ufffd"
EXAMPLE_ROWS = 5
# A single-byte or CJK reading needs invalid UTF-8 sequences to outnumber valid multi-byte ones
# this many times over (a cp1252 file has almost no valid UTF-8 pairs; GB18030 text has some).
SINGLE_BYTE_EVIDENCE = 20
# Share of CJK characters among all letters, and their least number, for a Shift JIS / GB18030
# reading to be believed (a few accented Latin letters can pair up into valid CJK characters).
CJK_LETTER_SHARE = 0.2
CJK_MIN_CHARACTERS = 10

_ESCAPED = re.compile("[\udc80-\udcff]+")
_UTF8_NAMES = ("utf-8", "utf-8-sig")
_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook is one): save it as CSV first",
    b"\x1f\x8b": "a gzip archive: unpack it first",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office file: save it as CSV first",
    b"\x89PNG": "a PNG image",
    b"SQLite format 3": "an SQLite database",
}
_CP1252_UNDEFINED = (0x81, 0x8D, 0x8F, 0x90, 0x9D)


@dataclass
class DecodeReport:
    """How a file's bytes became text: the codec, why, and which rows lost bytes (if any)."""

    encoding: str  # Python codec name the text was read with
    reason: str  # why that codec, in words for the user
    replaced_bytes: int = 0  # invalid UTF-8 bytes replaced by U+FFFD
    replaced_rows: int = 0  # data rows holding a replaced byte (header not counted)
    replaced_examples: list[int] = field(default_factory=list)  # first rows, 0-based positions
    header_replaced: bool = False

    @property
    def lossless_utf8(self) -> bool:
        """True when every cell is the input's own UTF-8 bytes, unchanged."""
        return self.encoding in _UTF8_NAMES and self.replaced_bytes == 0

    def summary(self) -> str | None:
        """One line for the user, or None when the file was plain UTF-8."""
        if self.lossless_utf8:
            return None
        if self.replaced_bytes:
            where = f"{self.replaced_rows:,} row{'s' if self.replaced_rows != 1 else ''}"
            if self.replaced_examples:
                shown = ", ".join(str(r + 1) for r in self.replaced_examples)
                more = ", …" if self.replaced_rows > len(self.replaced_examples) else ""
                where += f" (data rows {shown}{more})"
            if self.header_replaced:
                where += " and the header"
            return (f"Read as {display_name(self.encoding)}; {self.replaced_bytes:,} invalid "
                    f"byte{'s' if self.replaced_bytes != 1 else ''} in {where} replaced with "
                    f"{REPLACEMENT}.")
        return f"Read as {display_name(self.encoding)}: {self.reason}."

    def to_dict(self) -> dict[str, object]:
        return {"encoding": self.encoding, "reason": self.reason,
                "replaced_bytes": self.replaced_bytes, "replaced_rows": self.replaced_rows,
                "replaced_examples": list(self.replaced_examples),
                "header_replaced": self.header_replaced}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecodeReport:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def display_name(encoding: str) -> str:
    return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16",
            "utf-16-le": "UTF-16 LE", "utf-16-be": "UTF-16 BE", "cp1252": "Windows-1252",
            "latin-1": "Latin-1 (ISO-8859-1)", "cp932": "Shift JIS (cp932)",
            "gb18030": "GB18030"}.get(encoding, encoding)


def decode_bytes(raw: bytes, name: str) -> tuple[str, DecodeReport]:
    """Decode `raw` (the file `name`); refuse binary files.

    When bytes were replaced, the returned text still holds them as lone surrogates
    (U+DC80–U+DCFF, Python's surrogateescape) so the reader can find the rows they are in; it
    calls `repair_columns` or `repair_lines` to turn them into U+FFFD and fill in the report.
    """
    if raw.startswith(codecs.BOM_UTF8):
        body = raw[len(codecs.BOM_UTF8):]
        try:
            return body.decode("utf-8"), DecodeReport("utf-8-sig", "it starts with a UTF-8 BOM")
        except UnicodeDecodeError:
            return _utf8_replaced(body, "utf-8-sig")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), DecodeReport("utf-16", "it starts with a UTF-16 BOM")
        except UnicodeDecodeError as err:
            raise BinaryFileError(
                f"{name} starts with a UTF-16 byte-order mark but is not valid UTF-16 "
                f"(byte {err.start:,}). Save it again as UTF-8.") from err
    for magic, what in _MAGIC.items():
        if raw.startswith(magic):
            raise BinaryFileError(f"{name} is {what}, not a text table.")
    if b"\x00" in raw[:8192]:
        found = _utf16_without_bom(raw)
        if found is not None:
            return found
        raise BinaryFileError(
            f"{name} looks like a binary file, not text. Level reads CSV, TSV, JSON Lines "
            f"and Parquet.")
    try:
        return raw.decode("utf-8"), DecodeReport("utf-8", "it is valid UTF-8")
    except UnicodeDecodeError:
        pass
    escaped = raw.decode("utf-8", errors="surrogateescape")
    runs = _ESCAPED.findall(escaped)
    invalid_runs = len(runs)
    invalid_bytes = sum(map(len, runs))
    ascii_bytes = int((np.frombuffer(raw, dtype=np.uint8) < 0x80).sum())
    valid_multibyte = len(escaped) - ascii_bytes - invalid_bytes
    if valid_multibyte >= invalid_runs:
        return _utf8_escaped(escaped, invalid_bytes, "utf-8")
    for codec, looks_right in (("cp932", _looks_japanese), ("gb18030", _looks_chinese)):
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        if looks_right(text):
            return text, DecodeReport(
                codec, f"it is not UTF-8 and decodes cleanly as {display_name(codec)} into "
                       f"{'Japanese' if codec == 'cp932' else 'Chinese'} text")
    if valid_multibyte * SINGLE_BYTE_EVIDENCE <= invalid_runs:
        single = _single_byte(raw)
        if single is not None:
            return single
    return _utf8_escaped(escaped, invalid_bytes, "utf-8")


def _utf8_replaced(raw: bytes, encoding: str) -> tuple[str, DecodeReport]:
    escaped = raw.decode("utf-8", errors="surrogateescape")
    return _utf8_escaped(escaped, sum(map(len, _ESCAPED.findall(escaped))), encoding)


def _utf8_escaped(escaped: str, invalid_bytes: int, encoding: str) -> tuple[str, DecodeReport]:
    return escaped, DecodeReport(
        encoding, "most of it is valid UTF-8; the bytes that are not were replaced",
        replaced_bytes=invalid_bytes)


def _single_byte(raw: bytes) -> tuple[str, DecodeReport] | None:
    """cp1252 when bytes 0x80–0x9F occur (Latin-1 would make them control characters), else
    Latin-1; None when the result would not be sensible text (control characters)."""
    data = np.frombuffer(raw, dtype=np.uint8)
    c1 = int(((data >= 0x80) & (data <= 0x9F)).sum())
    if c1 == 0:
        return raw.decode("latin-1"), DecodeReport(
            "latin-1", "it is not UTF-8, and its accented letters read as Latin-1")
    undefined = int(np.isin(data, _CP1252_UNDEFINED).sum())
    high = int((data >= 0x80).sum())
    if undefined > 0.05 * high:
        return None
    # The five bytes cp1252 leaves undefined stay escaped, to be replaced and reported like
    # invalid UTF-8.
    text = raw.decode("cp1252", errors="surrogateescape")
    return text, DecodeReport(
        "cp1252", "it is not UTF-8, and its bytes 0x80–0x9F read as Windows-1252 punctuation",
        replaced_bytes=undefined)


def _utf16_without_bom(raw: bytes) -> tuple[str, DecodeReport] | None:
    """UTF-16 without a BOM: NUL bytes almost all on one side of each byte pair, and a strict
    decode into printable text."""
    if len(raw) % 2:
        return None
    sample = raw[:8192]
    pairs = len(sample) // 2
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= 0.05 * pairs and even * 20 <= odd:
        codec = "utf-16-le"
    elif even >= 0.05 * pairs and odd * 20 <= even:
        codec = "utf-16-be"
    else:
        return None
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        return None
    if "\x00" in text or _control_share(text[:20000]) > 0.01:
        return None
    return text, DecodeReport(codec, "its NUL bytes follow the pattern of UTF-16 without a BOM")


def _control_share(text: str) -> float:
    if not text:
        return 0.0
    controls = sum(1 for ch in text if ch not in "\t\n\r" and unicodedata.category(ch) == "Cc")
    return controls / len(text)


def _script_counts(text: str) -> tuple[int, int, int, int]:
    """(full-width kana, CJK ideographs and punctuation, other letters, non-ASCII characters).

    Half-width katakana count as other letters: cp932 reads Latin-1's accented capitals so."""
    kana = cjk = letters = non_ascii = 0
    for ch in text[:200000]:
        o = ord(ch)
        if o < 0x80:
            if ch.isalpha():
                letters += 1
            continue
        non_ascii += 1
        if 0x3040 <= o <= 0x30FF:
            kana += 1
        elif 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x3000 <= o <= 0x303F \
                or 0xFF00 <= o <= 0xFF65:
            cjk += 1
        elif ch.isalpha():
            letters += 1
    return kana, cjk, letters, non_ascii


def _looks_japanese(text: str) -> bool:
    kana, cjk, letters, non_ascii = _script_counts(text)
    return (kana + cjk >= CJK_MIN_CHARACTERS and kana >= 0.1 * non_ascii
            and kana + cjk >= 0.8 * non_ascii
            and kana + cjk >= CJK_LETTER_SHARE * (kana + cjk + letters))


def _looks_chinese(text: str) -> bool:
    kana, cjk, letters, non_ascii = _script_counts(text)
    return (cjk >= CJK_MIN_CHARACTERS and cjk >= 0.8 * non_ascii
            and cjk >= CJK_LETTER_SHARE * (cjk + kana + letters))


def has_escapes(value: str) -> bool:
    return _ESCAPED.search(value) is not None


def _replace(value: str) -> str:
    return _ESCAPED.sub(lambda m: REPLACEMENT * len(m.group()), value)


def repair_header(header: list[str], report: DecodeReport) -> list[str]:
    """The header with escaped bytes replaced by U+FFFD (noted in the report)."""
    if not report.replaced_bytes:
        return header
    if any(has_escapes(h) for h in header):
        report.header_replaced = True
        return [_replace(h) for h in header]
    return header


def repair_columns(columns: list[list[str]], report: DecodeReport) -> None:
    """Replace escaped bytes in every cell by U+FFFD, in place; count and list the rows."""
    if not report.replaced_bytes:
        return
    affected: set[int] = set()
    for column in columns:
        for i, value in enumerate(column):
            if has_escapes(value):
                column[i] = _replace(value)
                affected.add(i)
    _note_rows(report, affected)


def repair_lines(text: str, report: DecodeReport) -> str:
    """For line-based formats (JSON Lines): rows are the non-blank lines."""
    if not report.replaced_bytes:
        return text
    affected: set[int] = set()
    row = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        if has_escapes(line):
            affected.add(row)
        row += 1
    _note_rows(report, affected)
    return _replace(text)


def _note_rows(report: DecodeReport, affected: set[int]) -> None:
    report.replaced_rows = len(affected)
    report.replaced_examples = sorted(affected)[:EXAMPLE_ROWS]
