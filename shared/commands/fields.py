"""Validated field types shared by the command models.

Each type refuses what could smuggle structure into a header, a log line or a
template: NUL and other control characters, and line breaks where one line is meant.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Final, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

# C0 controls except TAB and LF, DEL, C1 controls, and the Unicode line and
# paragraph separators (which email folding turns into real line breaks).
_MULTILINE_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u2028\u2029]")
_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f\x80-\x9f\u2028\u2029]")
# The Idempotency-Key, as the published contracts state it: 1 to 255 visible ASCII
# characters (as the Idempotency-Key draft recommends), or the same in double quotes (an
# RFC 8941 string); `""` is no key. `(?![\s\S])` ends the text in every regex dialect
# (a JSON Schema `$` lets Python's `re.search` accept a final line break).
IDEMPOTENCY_KEY_PATTERN: Final = r'^(?!""$)(?:"[!-~]{1,255}"|[!-~]{1,255})(?![\s\S])'
IDEMPOTENCY_KEY_RULE: Final = (
    "1 to 255 visible ASCII characters (`!` to `~`; a UUID is ideal), bare or in double"
    " quotes (an RFC 8941 string, the quotes not part of the key)"
)
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def _single_line(value: str) -> str:
    if _LINE_FORBIDDEN.search(value):
        raise ValueError("must be one line without control characters")
    return value


def _multiline(value: str) -> str:
    if _MULTILINE_FORBIDDEN.search(value):
        raise ValueError("must not contain control characters")
    return value


def parse_email(value: str) -> str:
    """A normalised single address, or ValueError saying what is wrong with it."""
    return _email(value)


def _email(value: str) -> str:
    _single_line(value)
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


def parse_idempotency_key(value: str) -> str:
    """The key of a bare key or of the RFC 8941 quoted form; refuse anything else."""
    if not _IDEMPOTENCY_KEY.match(value):
        raise ValueError("must be 1 to 255 visible ASCII characters")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


Subject = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(_single_line),
]
Line = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_single_line)
]
Name = Annotated[Line, StringConstraints(max_length=200)]
ShortText = Annotated[Line, StringConstraints(max_length=500)]
LongText = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(_multiline)]
Note = Annotated[str, StringConstraints(max_length=2_000), AfterValidator(_multiline)]
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_email)]
Phone = Annotated[Line, StringConstraints(max_length=40, pattern=r"^\+?[0-9 ()./-]{3,40}$")]
IdempotencyKey = Annotated[
    str,
    AfterValidator(parse_idempotency_key),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": IDEMPOTENCY_KEY_PATTERN,
            "minLength": 1,
            "maxLength": 257,
            "description": f"{IDEMPOTENCY_KEY_RULE}.",
        }
    ),
]
Version = Annotated[int, Field(ge=1, strict=True)]


def _template_name(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,79}", value):
        raise ValueError("must be 1 to 80 of a-z, 0-9, '_', '.', '-'")
    return value


def _http_url(value: str) -> str:
    _single_line(value)
    if not re.fullmatch(r"https?://[^\s/$.?#][^\s]*", value):
        raise ValueError("must be an http(s) URL")
    return value


def _variable_name(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", value):
        raise ValueError("a variable name is 1 to 40 of a-z, 0-9 and '_', starting with a letter")
    return value


RejectionType = Literal["by_company", "by_candidate", "unspecified"]
VariableName = Annotated[str, AfterValidator(_variable_name)]
TemplateName = Annotated[str, AfterValidator(_template_name)]
Url = Annotated[str, StringConstraints(max_length=2_000), AfterValidator(_http_url)]


class Money(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Decimal = Field(
        gt=0, le=10_000_000, max_digits=12, decimal_places=2, allow_inf_nan=False
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR.")
    period: Literal["hour", "month", "year"]
