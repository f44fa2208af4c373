"""Text encodings of CSV files: UTF-8, or Windows-1252 as spreadsheets save it."""

from __future__ import annotations


def as_utf8(data: bytes) -> tuple[bytes, list[str]]:
    """The text as UTF-8; bytes that are not valid UTF-8 are read as Windows-1252 (what
    spreadsheets on Windows save as "CSV"), and a note says so."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1").translate(_CP1252)
        return text.encode("utf-8"), ["not valid UTF-8: read as Windows-1252 (cp1252)"]
    return data, []


def _cp1252_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # five bytes cp1252 leaves undefined: as Latin-1 reads them
        return chr(byte)


# Latin-1 text (each byte its own code point) to what those bytes mean in cp1252.
_CP1252 = {byte: _cp1252_char(byte) for byte in range(0x80, 0xA0)}
