"""The one exception tree of KkOrthanc.

Every failure KkOrthanc reports is an :class:`OrthancError`; nothing is printed, swallowed or
turned into ``None``. Errors that come from the server keep what the server said (HTTP status,
Orthanc's own status code and name, message and details) together with the request's method and
URL. Transport failures are raised ``from`` the underlying exception. Credentials never appear in
a message.

This is the one drawing of the tree (other modules name the classes they raise and point here),
and every class in it is also exported by :mod:`kkorthanc` itself (``kkorthanc.NotFoundError``)::

    OrthancError
    ├── OrthancHTTPError                 the server answered with an error status
    │   ├── BadRequestError              400 (and other 4xx without a class of their own)
    │   │   └── ForceRequiredError       changing PatientID or a UID without force=True
    │   ├── UnauthorizedError            401: credentials missing or wrong
    │   ├── ForbiddenError               403
    │   ├── NotFoundError                404
    │   ├── MethodNotAllowedError        405 (``allow`` lists what the route accepts)
    │   ├── ConflictError                409: stale revision, concurrent change
    │   ├── UnsupportedMediaTypeError    415: e.g. an image the server cannot decode
    │   ├── UnprocessableEntityError     422: e.g. a failed C-MOVE
    │   ├── ServerError                  5xx
    │   └── DicomNetworkError            a DICOM association or operation with a remote failed
    ├── JobFailedError                   a server-side job ended in failure
    ├── ClientClosedError (RuntimeError)  the client was used after close()/aclose()
    ├── OrthancTransportError            no usable answer reached us
    │   ├── OrthancConnectionError       refused, unreachable, DNS
    │   │   └── OrthancTLSError          certificate or TLS handshake failure
    │   └── OrthancTimeoutError          connect, read, write or pool timeout
    ├── UnexpectedContentError           an answer of a kind the call cannot return
    ├── UnsupportedFeatureError          the connected server lacks what the call needs
    ├── TransferTargetError              a download's local target cannot be written
    ├── MissingDependencyError (ImportError)  an optional package is not installed
    ├── LauncherError (RuntimeError)     a local Orthanc could not be found, started, stopped
    │   ├── OrthancNotInstalledError     no Orthanc, plugin or PostgreSQL (says how to install)
    │   ├── OrthancStartError            it exited or never answered (with its log's tail)
    │   └── UnsafePathError              a data folder or file others could have written
    └── OrthancInputError (ValueError)   bad arguments, caught before any request
        ├── InvalidURLError              a server URL that cannot be used
        └── ChrootPathError              a path outside the chroot of a chrooted Orthanc

One warning, not an error: :class:`InsecureTransportWarning` (a ``UserWarning``), issued when a
client is created for an ``https://`` server with certificate verification turned off.

A bulk transfer that stops on an error (wrong credentials, server gone, target not writable)
attaches what it did so far as ``error.report`` (an ``UploadReport`` or ``DownloadReport``).

Example:
    >>> from kkorthanc import Orthanc
    >>> from kkorthanc.errors import NotFoundError
    >>> with Orthanc("http://localhost:8042") as client:  # doctest: +SKIP
    ...     try:
    ...         client.get("studies/0000")
    ...     except NotFoundError as error:
    ...         print(error.status_code, error.url)
    404 http://localhost:8042/studies/0000
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = [
    "BadRequestError",
    "ChrootPathError",
    "ClientClosedError",
    "ConflictError",
    "DicomNetworkError",
    "ForbiddenError",
    "ForceRequiredError",
    "InsecureTransportWarning",
    "InvalidURLError",
    "JobFailedError",
    "LauncherError",
    "MethodNotAllowedError",
    "MissingDependencyError",
    "NotFoundError",
    "OrthancConnectionError",
    "OrthancError",
    "OrthancHTTPError",
    "OrthancInputError",
    "OrthancNotInstalledError",
    "OrthancStartError",
    "OrthancTLSError",
    "OrthancTimeoutError",
    "OrthancTransportError",
    "ServerError",
    "TransferTargetError",
    "UnauthorizedError",
    "UnexpectedContentError",
    "UnprocessableEntityError",
    "UnsafePathError",
    "UnsupportedFeatureError",
    "UnsupportedMediaTypeError",
]


class OrthancError(Exception):
    """Root of every exception KkOrthanc raises.

    Attributes:
        report: When a bulk upload or download stopped on this error, the partial report
            (``UploadReport`` or ``DownloadReport``) of what was done before; else None.

    Example:
        >>> try:
        ...     raise OrthancInputError("limit must be positive")
        ... except OrthancError as error:
        ...     str(error)
        'limit must be positive'
    """

    report: Any = None


class OrthancHTTPError(OrthancError):
    """The server answered with an HTTP error status.

    Attributes:
        status_code: The HTTP status, e.g. ``404``.
        method: The request's method, e.g. ``"GET"``.
        url: The request's URL (never with credentials).
        message: Orthanc's ``Message`` when the body had one, else the HTTP reason phrase.
        orthanc_status: Orthanc's numeric ``OrthancStatus`` (``17`` is "unknown resource"), or None
            when the body did not carry one (many Orthanc errors have an empty body).
        orthanc_error: Orthanc's ``OrthancError`` name, e.g. ``"Unknown resource"``, or None.
        details: Orthanc's ``Details`` when present, or None.
        body: The decoded JSON body (a dict) when there was one, else the raw text (may be empty).
        allow: The methods listed by an ``Allow`` header (405 answers), else an empty tuple.

    Example:
        >>> error = NotFoundError(404, "GET", "http://localhost:8042/studies/x", "Unknown resource",
        ...                       orthanc_status=17)
        >>> error.status_code, error.orthanc_status
        (404, 17)
    """

    def __init__(
        self,
        status_code: int,
        method: str,
        url: str,
        message: str,
        *,
        orthanc_status: int | None = None,
        orthanc_error: str | None = None,
        details: str | None = None,
        body: dict[str, Any] | str = "",
        allow: tuple[str, ...] = (),
        hint: str = "",
    ) -> None:
        self.status_code = status_code
        self.method = method
        self.url = url
        self.message = message
        self.orthanc_status = orthanc_status
        self.orthanc_error = orthanc_error
        self.details = details
        self.body = body
        self.allow = allow
        self.hint = hint
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"{self.status_code} on {self.method} {self.url}: {self.message}"
        if self.orthanc_error and self.orthanc_error != self.message:
            text += f" [{self.orthanc_error}]"
        if self.details:
            text += f" ({self.details})"
        if self.allow:
            text += f"; allowed methods: {', '.join(self.allow)}"
        if self.hint:
            text += f". {self.hint}"
        return text

    def _fields(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The constructor's arguments that rebuild this error (for pickling and copies)."""
        kwargs = {
            "orthanc_status": self.orthanc_status,
            "orthanc_error": self.orthanc_error,
            "details": self.details,
            "body": self.body,
            "allow": self.allow,
            "hint": self.hint,
        }
        return (self.status_code, self.method, self.url, self.message), kwargs

    def __reduce__(self) -> tuple[Any, ...]:
        args, kwargs = self._fields()
        return (_rebuild_http_error, (type(self), args, kwargs))


def _rebuild_http_error(
    cls: type[OrthancHTTPError], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> OrthancHTTPError:
    return cls(*args, **kwargs)


_HTTPErrorT = TypeVar("_HTTPErrorT", bound=OrthancHTTPError)


def rebuild_error(error: OrthancHTTPError, cls: type[_HTTPErrorT], *, hint: str) -> _HTTPErrorT:
    """A copy of ``error`` as ``cls`` whose hint (the cause and fix after the message) is ``hint``.

    For the library's own modules, which give a server's answer a class and a hint that only
    the calling code can know (a failed C-MOVE is a :class:`DicomNetworkError`, a 415 on a
    preview names the transfer syntax); not in ``__all__``, which lists the exception classes.
    Everything the server said is kept.

    Raises:
        Nothing: it returns the copy (raise it ``from`` the original).

    Example:
        >>> error = ServerError(500, "POST", "http://o/modalities/pacs/echo", "Bad request")
        >>> str(rebuild_error(error, DicomNetworkError, hint="the C-ECHO failed"))
        '500 on POST http://o/modalities/pacs/echo: Bad request. the C-ECHO failed'
    """
    args, kwargs = error._fields()
    return cls(*args, **{**kwargs, "hint": hint})


class BadRequestError(OrthancHTTPError):
    """400 Bad Request, and any other 4xx status without a class of its own."""


class UnauthorizedError(OrthancHTTPError):
    """401 Unauthorized: the credentials are missing or wrong."""


class ForbiddenError(OrthancHTTPError):
    """403 Forbidden: e.g. writing system metadata, or a route disabled by configuration."""


class NotFoundError(OrthancHTTPError):
    """404 Not Found: an unknown resource, route, job or modality.

    Orthanc also answers 404 ("inexistent tag") to an upload that lacks Study or Series UIDs.
    """


class MethodNotAllowedError(OrthancHTTPError):
    """405 Method Not Allowed; :attr:`allow` lists the methods the route accepts."""


class ConflictError(OrthancHTTPError):
    """409 Conflict: a stale revision (``If-Match``) or a concurrent change."""


class UnsupportedMediaTypeError(OrthancHTTPError):
    """415 Unsupported Media Type: e.g. a preview of an image the server cannot decode."""


class UnprocessableEntityError(OrthancHTTPError):
    """422 Unprocessable Entity: e.g. a C-MOVE that the remote modality refused."""


class ServerError(OrthancHTTPError):
    """A 5xx status: an internal error, a plugin's exception, a failed DICOM association."""


class ForceRequiredError(BadRequestError):
    """400: the change touches PatientID or a UID, which Orthanc allows only with ``force=True``.

    Orthanc answers ``Bad request`` with details such as ``Marking tag "PatientID" as to be
    replaced requires the "Force" option to be set to true``; the message adds what to do.
    """


class DicomNetworkError(OrthancHTTPError):
    """A DICOM network operation through Orthanc failed: a refused or timed-out association,
    a C-FIND, C-MOVE, C-GET or C-STORE that the remote modality or peer rejected.

    Carries the HTTP status (500 with Orthanc status 9 for a failed association, 422 for a failed
    C-MOVE) and Orthanc's details, e.g. ``TCP Initialization Error: Connection refused``.
    """


class JobFailedError(OrthancError):
    """A server-side job (modification, anonymization, archive, C-MOVE, store...) failed.

    Attributes:
        job_id: The job's ID.
        job_type: Its type, e.g. ``"ResourceModification"`` or ``"DicomModalityStore"``.
        error_code: Orthanc's numeric error code (9 is a network protocol error).
        error_description: Orthanc's description of the code.
        error_details: Orthanc's details (may be empty).
        content: The job's ``Content`` (what it did before failing).

    Example:
        >>> error = JobFailedError("j1", "DicomModalityStore", 9, "Error in the network protocol",
        ...                        "Connection refused")
        >>> error.error_code
        9
    """

    def __init__(
        self,
        job_id: str,
        job_type: str,
        error_code: int,
        error_description: str,
        error_details: str = "",
        *,
        content: dict[str, Any] | None = None,
    ) -> None:
        self.job_id = job_id
        self.job_type = job_type
        self.error_code = error_code
        self.error_description = error_description
        self.error_details = error_details
        self.content = dict(content or {})
        text = f"job {job_id} ({job_type}) failed: {error_description} [error {error_code}]"
        super().__init__(text + (f" ({error_details})" if error_details else ""))

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.job_id, self.job_type, self.error_code, self.error_description)
        return (_rebuild_job_error, (args, self.error_details, self.content))


def _rebuild_job_error(
    args: tuple[str, str, int, str], details: str, content: dict[str, Any]
) -> JobFailedError:
    job_id, job_type, code, description = args
    return JobFailedError(job_id, job_type, code, description, details, content=content)


class ClientClosedError(OrthancError, RuntimeError):
    """The client was used after ``close()`` / ``aclose()`` (or after its ``with`` block ended).

    Its connection pool is gone: create a new client. Also a :class:`RuntimeError`, which
    httpx raised here before.

    Attributes:
        method: The request's method.
        url: The request's URL (never with credentials).

    Example:
        >>> client = Orthanc("http://localhost:8042")  # doctest: +SKIP
        >>> client.close()  # doctest: +SKIP
        >>> try:  # doctest: +SKIP
        ...     client.system()
        ... except ClientClosedError as error:
        ...     print(error)
        this Orthanc client of http://localhost:8042/ is closed (close() was called, ...
    """

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        self.method = method
        self.url = url
        super().__init__(message)


class OrthancTransportError(OrthancError):
    """No usable answer reached the client.

    Attributes:
        method: The request's method.
        url: The request's URL (never with credentials).
    """

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        self.method = method
        self.url = url
        super().__init__(message)


class OrthancConnectionError(OrthancTransportError):
    """The server could not be reached: connection refused, unknown host, connection reset."""


class OrthancTLSError(OrthancConnectionError):
    """The TLS handshake failed: an untrusted or self-signed certificate, a wrong host name."""


class OrthancTimeoutError(OrthancTransportError):
    """A connect, read, write or pool timeout expired, or an operation did not end in time."""


class UnexpectedContentError(OrthancError):
    """The server's answer is of a kind this call cannot return (e.g. binary to ``get``).

    Attributes:
        content_type: The answer's ``Content-Type``.
    """

    def __init__(self, message: str, *, content_type: str = "") -> None:
        self.content_type = content_type
        super().__init__(message)


class UnsupportedFeatureError(OrthancError):
    """The connected server lacks a feature the call needs, or would silently ignore an option.

    Raised instead of sending a request whose answer would be wrong, e.g. a label filter to a
    server older than Orthanc 1.12.0, which would return unfiltered results.
    """


class OrthancInputError(OrthancError, ValueError):
    """Bad arguments, detected before any request is sent. Also a :class:`ValueError`."""


class InvalidURLError(OrthancInputError):
    """A server URL that cannot be used: no scheme, an unsupported scheme, or no host."""


class TransferTargetError(OrthancError):
    """The local target of a download cannot be written (read-only, not a folder, disk full).

    Attributes:
        path: The path that could not be written.
        report: The partial ``DownloadReport`` (for an export), else None.

    Example:
        >>> try:
        ...     client.export([study], "/read-only/out")  # doctest: +SKIP
        ... except TransferTargetError as error:
        ...     print(error.path)
    """

    def __init__(self, message: str, *, path: str, report: Any = None) -> None:
        self.path = path
        self.report = report
        super().__init__(message)


class MissingDependencyError(OrthancError, ImportError):
    """An optional package that a call needs is not installed; the message names the extra.

    Example:
        >>> raise MissingDependencyError("numpy() needs numpy: pip install 'kkorthanc[numpy]'")
        Traceback (most recent call last):
        ...
        kkorthanc.errors.MissingDependencyError: numpy() needs numpy: pip install 'kkorthanc[numpy]'
    """


class LauncherError(OrthancError, RuntimeError):
    """Orthanc could not be found, started or stopped (also a :class:`RuntimeError`)."""


class OrthancNotInstalledError(LauncherError):
    """No Orthanc executable where one was expected; the message says how to install one."""


class OrthancStartError(LauncherError):
    """The Orthanc process exited during start-up or never answered; the message has the log tail.

    Attributes:
        log_tail: The last lines Orthanc wrote.
        port_in_use: True when Orthanc said one of its TCP ports was taken.
    """

    def __init__(self, message: str, *, log_tail: str = "", port_in_use: bool = False) -> None:
        self.log_tail = log_tail
        self.port_in_use = port_in_use
        super().__init__(message)


class UnsafePathError(LauncherError):
    """A server's data folder or configuration that someone else owns or could have written.

    Orthanc runs what its configuration names (Lua scripts, Python scripts, plugins) as the
    account that starts it: a folder or file another local user could have planted is refused,
    never adopted. The message names the path, its owner and its mode.

    Attributes:
        path: The refused path.

    Raises:
        Nothing: it is an exception class.

    Example:
        >>> str(UnsafePathError("/tmp/x is writable by others (mode 0777)", path="/tmp/x"))
        '/tmp/x is writable by others (mode 0777)'
    """

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(message)


class ChrootPathError(OrthancInputError):
    """A path given to an Orthanc that runs in a chroot lies outside that chroot."""


class InsecureTransportWarning(UserWarning):
    """A client talks to an ``https://`` server without checking its certificate.

    Issued once per client, when it is created with ``verify=False`` (or an ``ssl.SSLContext``
    that verifies nothing): anyone on the path can then read or change what is sent, credentials
    and patient data included. Trust a self-signed server with ``verify="ca.pem"`` instead; or,
    knowingly, silence it with ``warnings.filterwarnings("ignore", category=...)``.

    Raises:
        Nothing: it is a warning category.

    Example:
        >>> import warnings
        >>> from kkorthanc import Orthanc
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     Orthanc("https://pacs.example.org", verify=False).close()
        >>> caught[0].category.__name__
        'InsecureTransportWarning'
    """
