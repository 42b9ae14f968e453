"""``.npy`` files written row by row: a header of fixed size first, rewritten with the final
shape when the file is sealed, so a segment's arrays stream to disk without being held whole."""

from __future__ import annotations

_HEADER = 128  # bytes reserved for the .npy header


def npy_header(rows: int, dimension: int, descr: str) -> bytes:
    """The header of a C-order ``(rows, dimension)`` array of dtype ``descr`` (e.g. ``<f4``)."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {dimension}), }}"
    body = text.ljust(_HEADER - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body.encode("latin1")
