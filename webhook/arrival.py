"""When have all the bytes of one HTTP/1.x request arrived?

:class:`RequestArrival` answers that for the web worker's event loop (see
:mod:`webhook.server`), fed whatever the socket gives. It is deliberately not a parser:
on anything it cannot make sense of (no valid length, a bad chunk size, a head or body
over the limit) it says "complete", so that gunicorn's real parser sees the bytes and
answers the client with a 400 or the app with a 413. It only ever errs towards handing
a request over early, never towards waiting on a request that has ended.
"""

from __future__ import annotations

_HEAD_END = b"\r\n\r\n"
_CRLF = b"\r\n"


class RequestArrival:
    """The bytes of one request so far, and whether they are all there."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.complete = False
        self._body_start: int | None = None
        self._body_end: int | None = None  # known once the length is known
        self._chunk_at: int | None = None  # chunked: where the next size line starts

    def feed(self, chunk: bytes) -> None:
        self.data += chunk
        self.complete = len(self.data) >= self.limit or self._whole()

    def take(self) -> bytes:
        """The bytes read, for the parser (this arrival is done with)."""
        data, self.data = bytes(self.data), bytearray()
        return data

    def _whole(self) -> bool:
        if self._body_start is None and not self._read_head():
            return False
        if self._body_end is not None:
            return len(self.data) >= self._body_end
        return self._chunks_ended()

    def _read_head(self) -> bool:
        end = self.data.find(_HEAD_END)
        if end < 0:
            return False
        self._body_start = end + len(_HEAD_END)
        fields = _fields(bytes(self.data[:end]))
        if fields.get(b"expect", b"").strip().lower() == b"100-continue":
            # The client waits for gunicorn's "100 Continue" before it sends the body.
            self._body_end = 0
            return True
        if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
            self._chunk_at = self._body_start
            return True
        length = fields.get(b"content-length", b"0").strip()
        # A length the parser will refuse, or the app (over the limit): hand over now.
        body_end = self._body_start + int(length) if length.isdigit() else 0
        self._body_end = body_end if body_end <= self.limit else 0
        return True

    def _chunks_ended(self) -> bool:
        """Walk the chunks received so far; True at the end of the last one's trailer."""
        while True:
            line_end = self.data.find(_CRLF, self._chunk_at)
            if line_end < 0:
                return False
            size_text = bytes(self.data[self._chunk_at : line_end]).split(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                return True
            if size < 0:
                return True
            if size == 0:
                return self._trailer_ended(line_end + len(_CRLF))
            self._chunk_at = line_end + len(_CRLF) + size + len(_CRLF)
            if self._chunk_at > len(self.data):
                return False

    def _trailer_ended(self, start: int) -> bool:
        if self.data[start : start + 2] == _CRLF:
            return True
        return self.data.find(_HEAD_END, start - len(_CRLF)) >= 0


def _fields(head: bytes) -> dict[bytes, bytes]:
    """The head's header fields by lower-cased name (the last one of a name wins)."""
    fields = {}
    for line in head.split(_CRLF)[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value
    return fields
