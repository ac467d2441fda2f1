"""The Open Inference Protocol's tensors: reading an input's values (JSON or the binary data
extension) and writing an output's, as V2 and its binary tensor data extension define them.

The binary extension is what tritonclient's HTTP client sends and asks for by default: the body
is the JSON header (its length in the Inference-Header-Content-Length header) followed by the
tensors' bytes, in input order, each input saying its size in `parameters.binary_data_size`.
Fixed-size types are little-endian arrays; a BYTES tensor is each element's length (4 bytes,
little-endian) followed by the element.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

HEADER_LENGTH = "Inference-Header-Content-Length"
# The fixed-size datatypes, as little-endian numpy types.
FIXED = {
    "BOOL": "|b1",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
NUMERIC = frozenset(FIXED) - {"BOOL"}
DATATYPES = frozenset(FIXED) | {"BYTES"}


class V2Error(Exception):
    """A request the protocol refuses; the message names the problem, as V2's {"error": ...}."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def split(raw: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """(the JSON header, the binary tensors after it) of a request body."""
    if header_length is None:
        return raw, b""
    try:
        length = int(header_length)
    except ValueError:
        raise V2Error(f"the {HEADER_LENGTH} header must be a number of bytes, got {header_length[:40]!r}") from None
    if not 0 <= length <= len(raw):
        raise V2Error(f"the {HEADER_LENGTH} header says {length} bytes, but the body has {len(raw)}")
    return raw[:length], raw[length:]


def from_binary(name: str, datatype: str, chunk: bytes, count: int) -> list[Any]:
    """The `count` values of input `name` from its bytes; a float NaN is a missing value."""
    if datatype == "BYTES":
        return [_text(name, element) for element in _elements(name, chunk, count)]
    item = np.dtype(FIXED[datatype])
    if len(chunk) != count * item.itemsize:
        raise V2Error(f"input '{name}': {len(chunk)} bytes of {datatype} is not the {count} elements its shape says")
    values = np.frombuffer(chunk, dtype=item)
    if datatype in ("FP16", "FP32"):
        # The number the client wrote, not its nearest float32 (39.1, not 39.099998474121094).
        values = values.astype(str).astype(np.float64)
    if values.dtype.kind == "f" and np.isnan(values).any():
        return [None if v != v else v for v in values.tolist()]
    return values.tolist()


def _elements(name: str, chunk: bytes, count: int) -> list[bytes]:
    elements, at = [], 0
    while at < len(chunk):
        if at + 4 > len(chunk):
            raise V2Error(f"input '{name}': a BYTES element's 4-byte length is cut short at byte {at}")
        (size,) = struct.unpack_from("<I", chunk, at)
        elements.append(chunk[at + 4 : at + 4 + size])
        at += 4 + size
    if at != len(chunk) or len(elements) != count:
        raise V2Error(f"input '{name}': its BYTES data holds {len(elements)} elements, its shape says {count}")
    return elements


def _text(name: str, element: bytes) -> str:
    try:
        return element.decode()
    except UnicodeDecodeError:
        raise V2Error(f"input '{name}': a BYTES element is not UTF-8 text") from None


def datatype_of(values: np.ndarray) -> str:
    """The V2 datatype an output of these values is sent as."""
    kind = values.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return "INT64"
    if kind == "f":
        return "FP64"
    return "BYTES"


def to_binary(datatype: str, values: Sequence[Any] | np.ndarray) -> bytes:
    """An output's values as the binary extension sends them."""
    if datatype == "BYTES":
        encoded = [str(v).encode() for v in values]
        return b"".join(struct.pack("<I", len(e)) + e for e in encoded)
    return np.asarray(values, dtype=FIXED[datatype]).tobytes()
