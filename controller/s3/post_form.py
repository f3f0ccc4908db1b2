"""Reading a ``multipart/form-data`` POST body as a stream: small fields, then the file.

Fields before the ``file`` part are collected in memory (capped); the file's bytes are handed on
chunk by chunk, never held whole; whatever follows the file is read and dropped, as AWS ignores
it. Built on python-multipart's push parser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from controller.s3 import errors

MAX_PRE_DATA = 64 * 1024  # all fields before the file together (policy documents are ≤ 20 KiB)


@dataclass
class FormHead:
    """The fields before the file part: names as sent, and values by lower-cased name."""

    names: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None


def boundary_of(headers: Mapping[str, str]) -> bytes:
    """The multipart boundary; PreconditionFailed when the body is not multipart/form-data."""
    kind, options = parse_options_header(headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind.lower() != b"multipart/form-data" or not boundary:
        raise errors.PreconditionFailed(
            "Bucket POST must be of the enclosure-type multipart/form-data",
            Condition="Bucket POST must be of the enclosure-type multipart/form-data")
    return boundary


class FormReader:
    """Feed the body with :meth:`head`, then iterate :meth:`file_chunks`."""

    def __init__(self, body: AsyncIterator[bytes], boundary: bytes) -> None:
        self._body = body
        self._head = FormHead()
        self._size = 0
        self._in_file = False
        self._file_done = False
        self._file_seen = False
        self._pending: list[bytes] = []
        self._headers: list[tuple[bytes, bytes]] = []
        self._name: bytes = b""
        self._value: bytes = b""
        self._part: tuple[str, str | None] | None = None  # (name, filename)
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._data,
            "on_part_end": self._part_end,
        })

    async def head(self) -> FormHead | None:
        """The fields before the file, or None when the body ends without a file part."""
        async for chunk in self._body:
            self._feed(chunk)
            if self._file_seen:
                return self._head
        return None

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes; the rest of the body is read and dropped after it."""
        while True:
            pending, self._pending = self._pending, []
            for chunk in pending:
                yield chunk
            if self._file_done:
                break
            chunk = await anext(self._body, b"")
            if not chunk:
                raise errors.MalformedPOSTRequest()  # the file part never ended
            self._feed(chunk)
        async for _rest in self._body:
            pass

    def _feed(self, chunk: bytes) -> None:
        if self._file_done:
            return  # after the file: ignored, not even parsed
        try:
            self._parser.write(chunk)
        except MultipartParseError:
            raise errors.MalformedPOSTRequest() from None

    # --- parser callbacks ----------------------------------------------------------------

    def _part_begin(self) -> None:
        self._headers, self._name, self._value = [], b"", b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers.append((self._name.lower(), self._value))
        self._name, self._value = b"", b""

    def _headers_finished(self) -> None:
        if self._file_done:
            return
        disposition = dict(self._headers).get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        name = options.get(b"name")
        if name is None:
            raise errors.MalformedPOSTRequest()
        text = name.decode("utf-8", "replace")
        filename = options.get(b"filename")
        self._part = (text, None if filename is None else filename.decode("utf-8", "replace"))
        self._value = b""
        if text.lower() == "file" and not self._file_seen:
            self._file_seen = self._in_file = True
            self._head.filename = self._part[1]

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._file_done:
            return
        if self._in_file:
            self._pending.append(bytes(data[start:end]))
            return
        self._size += end - start
        if self._size > MAX_PRE_DATA:
            raise errors.MaxPostPreDataLengthExceeded()
        self._value += data[start:end]

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file, self._file_done = False, True
            return
        if self._file_done:
            return
        assert self._part is not None
        name = self._part[0]
        value = self._value.decode("utf-8", "replace")
        low = name.lower()
        if low in self._head.fields:
            return  # the first of repeated fields counts
        self._head.names.append(name)
        self._head.fields[low] = value
