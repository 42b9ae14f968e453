"""Whether a zstd stream ends where a frame ends.

``zstandard``'s stream reader simply stops at the end of a cut-off input, so a truncated
``.zst`` would read as a shorter corpus. ``FrameWalker`` follows the frame and block headers
of the compressed bytes as they are read (skipping block contents, nothing is decompressed
twice) and says at the end whether the last frame was complete.
"""

from __future__ import annotations

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_SKIPPABLE_FIRST, _SKIPPABLE_LAST = 0x184D2A50, 0x184D2A5F
_DICT_ID_BYTES = (0, 1, 2, 4)
_CHECKSUM_BYTES = 4


class FrameWalker:
    """Feed it the compressed bytes in order; ``complete`` is true between frames."""

    def __init__(self) -> None:
        self._need = 4  # bytes of the next header to collect
        self._header = b""
        self._state = "magic"
        self._skip = 0  # bytes of content to pass over
        self._last_block = False
        self._checksum = False
        self.frames = 0

    @property
    def complete(self) -> bool:
        return self._state == "magic" and not self._header and self._skip == 0 and self.frames > 0

    def feed(self, data: bytes) -> None:
        """Follow ``data``; ValueError when the bytes are not zstd frames."""
        view = memoryview(data)
        while view:
            if self._skip:
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                continue
            take = min(self._need - len(self._header), len(view))
            self._header += bytes(view[:take])
            view = view[take:]
            if len(self._header) == self._need:
                header, self._header = self._header, b""
                self._advance(header)

    def _advance(self, header: bytes) -> None:
        if self._state == "magic":
            magic = int.from_bytes(header, "little")
            if header == ZSTD_MAGIC:
                self._state, self._need = "descriptor", 1
            elif _SKIPPABLE_FIRST <= magic <= _SKIPPABLE_LAST:
                self._state, self._need = "skippable", 4
            else:
                raise ValueError("not a zstd frame")
        elif self._state == "skippable":
            self._skip = int.from_bytes(header, "little")
            self._state, self._need = "magic", 4
            self.frames += 1
        elif self._state == "descriptor":
            descriptor = header[0]
            single_segment = bool(descriptor & 0x20)
            content_size_flag = descriptor >> 6
            self._checksum = bool(descriptor & 0x04)
            window = 0 if single_segment else 1
            content_size = (1 if single_segment else 0, 2, 4, 8)[content_size_flag]
            rest = window + _DICT_ID_BYTES[descriptor & 0x03] + content_size
            self._state, self._need = "block", 3
            self._skip = rest
        elif self._state == "block":
            value = int.from_bytes(header, "little")
            self._last_block = bool(value & 1)
            block_type, size = (value >> 1) & 0x03, value >> 3
            if block_type == 3:
                raise ValueError("reserved zstd block type")
            self._skip = 1 if block_type == 1 else size
            if self._last_block:
                self._end_frame()
        elif self._state == "checksum":
            self._state, self._need = "magic", 4
            self.frames += 1

    def _end_frame(self) -> None:
        if self._checksum:
            # The checksum follows the last block's content: collected as a 4-byte header.
            self._state, self._need = "checksum", _CHECKSUM_BYTES
        else:
            self._state, self._need = "magic", 4
            self.frames += 1
