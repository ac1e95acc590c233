"""Turning answers into Python values and errors: the one choke point, with no I/O."""

from __future__ import annotations

import json
import ssl
from typing import Any

import httpx

from .. import errors

__all__ = ["decode_body", "error_from_response", "speaks_plain_http", "transport_error"]

_STATUS_CLASSES: dict[int, type[errors.OrthancHTTPError]] = {
    400: errors.BadRequestError,
    401: errors.UnauthorizedError,
    403: errors.ForbiddenError,
    404: errors.NotFoundError,
    405: errors.MethodNotAllowedError,
    409: errors.ConflictError,
    415: errors.UnsupportedMediaTypeError,
    422: errors.UnprocessableEntityError,
}

_HINTS = {
    401: "The credentials are missing or wrong: pass auth=(username, password) or token=, "
    "or set ORTHANC_USERNAME and ORTHANC_PASSWORD",
    403: "The server refuses this operation: system metadata and attachments (index < 1024) "
    "are read-only, and some routes are disabled by the server's configuration",
}


def error_from_response(response: httpx.Response) -> errors.OrthancHTTPError:
    """Build the typed error for an error answer whose body has been read.

    The body is parsed as JSON whatever its ``Content-Type`` says (before Orthanc 1.12.2 error
    bodies have none), and many Orthanc errors have no body at all.
    """
    status = response.status_code
    body = _parse_error_body(response.content)
    fields = body if isinstance(body, dict) else {}
    message = _text(fields.get("Message")) or response.reason_phrase or "error"
    cls = _STATUS_CLASSES.get(status)
    if cls is None:
        cls = errors.ServerError if status >= 500 else errors.BadRequestError
    return cls(
        status,
        response.request.method,
        str(response.request.url),
        message,
        orthanc_status=_int(fields.get("OrthancStatus")),
        orthanc_error=_text(fields.get("OrthancError")),
        details=_text(fields.get("Details")),
        body=body,
        allow=_allow(response.headers.get("Allow", "")),
        hint=_HINTS.get(status, ""),
    )


def _parse_error_body(content: bytes) -> dict[str, Any] | str:
    text = content.decode("utf-8", errors="replace")
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _allow(header: str) -> tuple[str, ...]:
    return tuple(method.strip() for method in header.split(",") if method.strip())


def decode_body(response: httpx.Response) -> Any:
    """Decode a successful answer: JSON as Python objects, text as ``str``, empty as ``None``.

    Raises:
        UnexpectedContentError: The answer is binary (a DICOM file, an image, an archive).
    """
    content = response.content
    if not content:
        return None
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return _json(response)
    if media_type.startswith("text/"):
        return response.text
    if not media_type:
        return _json_or_text(response)
    raise errors.UnexpectedContentError(
        f"{response.request.method} {response.request.url} answered {media_type} "
        f"({len(content)} bytes); use get_bytes() or stream() for binary content",
        content_type=media_type,
    )


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as error:
        raise errors.UnexpectedContentError(
            f"{response.request.method} {response.request.url} answered malformed JSON: {error}",
            content_type="application/json",
        ) from error


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        pass
    try:
        return response.content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise errors.UnexpectedContentError(
            f"{response.request.method} {response.request.url} answered binary content "
            "without a Content-Type; use get_bytes() or stream()",
        ) from error


def transport_error(
    error: httpx.TransportError, method: str, url: str
) -> errors.OrthancTransportError:
    """Translate an httpx transport failure into the matching KkOrthanc error."""
    where = f"{method} {url}"
    if isinstance(error, httpx.TimeoutException):
        phase = type(error).__name__.replace("Timeout", "").lower() or "request"
        return errors.OrthancTimeoutError(
            f"{where} timed out ({phase}); raise timeout= if the operation is long, "
            "or check that the server is responsive",
            method=method,
            url=url,
        )
    if _is_tls_failure(error) and speaks_plain_http(error):
        return errors.OrthancTLSError(
            f"{where} failed the TLS handshake: {_cause_text(error)}: the server answers plain "
            "HTTP at this address, not HTTPS; use an http:// URL (or put a TLS proxy in front)",
            method=method,
            url=url,
        )
    if _is_tls_failure(error):
        return errors.OrthancTLSError(
            f"{where} failed the TLS handshake: {_cause_text(error)}; pass verify= with the "
            "server's CA certificate (or verify=False for a trusted self-signed test server)",
            method=method,
            url=url,
        )
    if isinstance(error, (httpx.ConnectError, httpx.NetworkError)):
        return errors.OrthancConnectionError(
            f"{where} could not reach the server ({_cause_text(error)}); is Orthanc running "
            "at this address?",
            method=method,
            url=url,
        )
    return errors.OrthancConnectionError(
        f"{where} failed: {type(error).__name__}: {_cause_text(error)}", method=method, url=url
    )


def _is_tls_failure(error: BaseException) -> bool:
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ssl.SSLError):
            return True
        current = current.__cause__ or current.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(error) or "SSL" in str(error)


_PLAIN_HTTP_REASONS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG")


def speaks_plain_http(error: BaseException) -> bool:
    """Whether a failed TLS handshake met a server answering plain HTTP (an ``https://`` URL
    for an ``http://`` server): OpenSSL then reads the HTTP answer as a bad TLS record.

    Example:
        >>> speaks_plain_http(ValueError("nothing to do with TLS"))
        False
    """
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ssl.SSLError) and current.reason in _PLAIN_HTTP_REASONS:
            return True
        text = str(current).upper().replace(" ", "_")
        if any(reason in text for reason in _PLAIN_HTTP_REASONS):
            return True
        current = current.__cause__ or current.__context__
    return False


def _cause_text(error: BaseException) -> str:
    return str(error) or type(error).__name__
