"""The API's JSON parser: DRF's, with a body nested too deeply for Python's json module (thousands of
`[`, well under any size limit) answered as the malformed input it is, 400, instead of a RecursionError's 500."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as RestJSONParser


class JSONParser(RestJSONParser):
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
