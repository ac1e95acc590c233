"""The client of one Orthanc server.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

import logging
from asyncio import sleep
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import httpx

from ..._core.config import AuthTypes, CertTypes, TimeoutTypes, VerifyTypes
from ..._core.models.system import Capabilities, Statistics, SystemInfo
from ..._core.protocol import decode_body, error_from_response, transport_error
from ..._core.request import UNSET, BaseOrthanc, EventHooks, ParamTypes, RequestData, is_streamed
from ..._core.retry import RetryTypes
from ..._core.seam import LaneSettings
from ..._core.urls import PathTypes
from ...errors import UnexpectedContentError
from ._collections import AsyncInstances, AsyncPatients, AsyncSeriesCollection, AsyncStudies
from ._jobs import AsyncJobs
from ._kk import plugin_version
from ._modalities import AsyncModalities
from ._operation_methods import AsyncOperationMethods
from ._peers import AsyncPeers
from ._transfer_methods import AsyncTransferMethods
from ._tree import AsyncTree, fetch_tree

__all__ = ["AsyncOrthanc"]

logger = logging.getLogger("kkorthanc")


class AsyncOrthanc(AsyncTransferMethods, AsyncOperationMethods, BaseOrthanc):
    """A client of one Orthanc server.

    With no ``url``, the server is read from ``ORTHANC_URL`` (and credentials from
    ``ORTHANC_USERNAME``/``ORTHANC_PASSWORD`` or ``ORTHANC_TOKEN``), else ``http://localhost:8042``.
    The base URL may carry a path prefix (``https://host/orthanc/``) and is kept.

    Args:
        url: The server's base URL.
        auth: ``(username, password)`` for HTTP basic authentication, or an ``httpx.Auth``.
        token: A bearer token, sent as ``Authorization: Bearer ...``.
        headers: Headers sent with every request.
        timeout: A :class:`~kkorthanc.Timeout`, one number of seconds, ``(connect, read)``, or
            None for no limit. The default waits 5 s to connect and 120 s between two reads.
        verify: True (the default) checks an ``https://`` server's certificate against the
            Mozilla CA bundle of the ``certifi`` package (httpx's default), not the operating
            system's store; with ``trust_env=True``, ``SSL_CERT_FILE`` or ``SSL_CERT_DIR``
            replace it when set. For a hospital or self-signed CA give its PEM file or folder
            (``verify="ca.pem"``; the system bundle is e.g.
            ``"/etc/ssl/certs/ca-certificates.crt"``), or an ``ssl.SSLContext``. False turns
            verification off (an :class:`~kkorthanc.errors.InsecureTransportWarning`).
        cert: A client certificate: a PEM file, or ``(certfile, keyfile)``.
        retries: A :class:`~kkorthanc.Retry` or a count: connection failures are retried for
            every request, 502/503/504 and read timeouts only for idempotent ones.
        proxy: A proxy for every request, e.g. ``"http://user:pass@proxy.example:3128"``
            (``socks5://`` with ``httpx[socks]``); ``https://`` servers are reached through a
            ``CONNECT`` tunnel, so the proxy sees only the host name. Wins over the
            environment's proxy variables.
        trust_env: False (the default): nothing is read from the environment but the
            ``ORTHANC_*`` variables above, so an ``HTTPS_PROXY`` meant for web browsing never
            receives patient data or credentials, and ``SSL_CERT_FILE`` cannot swap the CAs
            trusted. True: httpx's behaviour, ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``
            and ``NO_PROXY`` choose the proxy per URL (list ``localhost,127.0.0.1`` in
            ``NO_PROXY`` for a local Orthanc), and ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` the CAs
            of ``verify=True``. ``.netrc`` is never read (httpx dropped it; pass
            ``auth=httpx.NetRCAuth()`` for that).
        transport: An ``httpx`` transport, e.g. ``httpx.MockTransport`` in unit tests.
        event_hooks: httpx's event hooks, ``{"request": [f], "response": [g]}``, called for every
            request this client sends, e.g. to log or count requests; here ``f`` and ``g`` are
            ``async def`` functions.
        use_kk_plugin: Whether lookups, ``uids()`` and ``tree()`` go through the KkOrthanc
            server plugin (one request each; see ``docs/plugin.md``): None (the default) when
            the server runs it, detected once with :meth:`capabilities`; False never (the plain
            REST API); True always (raises UnsupportedFeatureError where the server lacks it).
            Both paths give the same results.

    Raises:
        InvalidURLError: The URL has no http(s) scheme or no host.
        OrthancInputError: Contradictory or malformed arguments.

    Example:
        >>> async with AsyncOrthanc("http://localhost:8042", auth=("orthanc", "orthanc")) as client:
        ...     info = await client.system()  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        auth: AuthTypes = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = UNSET,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        retries: RetryTypes = 3,
        proxy: str | None = None,
        trust_env: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        event_hooks: EventHooks | None = None,
        use_kk_plugin: bool | None = None,
    ) -> None:
        super().__init__(
            url,
            auth=auth,
            token=token,
            headers=headers,
            timeout=timeout,
            verify=verify,
            cert=cert,
            retries=retries,
            proxy=proxy,
            trust_env=trust_env,
            event_hooks=event_hooks,
            use_kk_plugin=use_kk_plugin,
        )
        self._http = httpx.AsyncClient(transport=transport, **self._client_options())
        self._transport_given = transport is not None  # the upload fast lane needs httpx's own
        self._capabilities: Capabilities | None = None
        # Attributes added by later layers go below, one block per layer, in this order:
        # resources (collections), transfer, server-side operations.
        # Resources: the four collections.
        self.patients = AsyncPatients(self)
        self.studies = AsyncStudies(self)
        self.series = AsyncSeriesCollection(self)
        self.instances = AsyncInstances(self)
        # Server-side operations: jobs, DICOM networking, peers, changes.
        self.jobs = AsyncJobs(self)
        self.modalities = AsyncModalities(self)
        self.peers = AsyncPeers(self)

    async def __aenter__(self) -> AsyncOrthanc:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool. The client cannot be used afterwards: a request then
        raises :class:`~kkorthanc.errors.ClientClosedError`."""
        await self._http.aclose()

    async def get(
        self,
        path: PathTypes,
        *,
        params: ParamTypes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = UNSET,
        retry: bool | None = None,
    ) -> Any:
        """Send ``GET path`` and return the decoded answer.

        Args:
            path: The route, e.g. ``"studies"``, or segments ``("patients", patient_id)``.
            params: Query values; True is sent as ``true``, False and None are left out.
            headers: Extra headers for this request.
            timeout: This request's timeout, overriding the client's.
            retry: True to allow retries even where unsafe, False to forbid them.

        Returns:
            JSON as Python objects, text (e.g. a metadata value) as ``str``, an empty body as None.

        Raises:
            OrthancHTTPError: The server answered an error status (a subclass per status).
            OrthancTransportError: No answer (connection failure, timeout).
            UnexpectedContentError: A binary answer: use :meth:`get_bytes` or :meth:`stream`.

        Example:
            >>> await client.get("studies", params={"expand": True})  # doctest: +SKIP
        """
        response = await self.request(
            "GET", path, params=params, headers=headers, timeout=timeout, retry=retry
        )
        return decode_body(response)

    async def post(
        self,
        path: PathTypes,
        *,
        json: Any = None,
        data: RequestData | None = None,
        params: ParamTypes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = UNSET,
        retry: bool | None = None,
    ) -> Any:
        """Send ``POST path`` with a JSON body (``json=``) or raw bytes (``data=``).

        A POST is not retried after it may have reached the server, unless ``retry=True``.

        Returns:
            The decoded answer, as for :meth:`get`.

        Raises:
            OrthancHTTPError: The server answered an error status.
            OrthancTransportError: No answer.
            OrthancInputError: Both ``json`` and ``data`` given.

        Example:
            >>> query = {"Level": "Study", "Query": {"PatientID": "P1"}}
            >>> await client.post("tools/find", json=query)  # doctest: +SKIP
        """
        response = await self.request(
            "POST",
            path,
            json=json,
            data=data,
            params=params,
            headers=headers,
            timeout=timeout,
            retry=retry,
        )
        return decode_body(response)

    async def put(
        self,
        path: PathTypes,
        *,
        json: Any = None,
        data: RequestData | None = None,
        params: ParamTypes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = UNSET,
        retry: bool | None = None,
    ) -> Any:
        """Send ``PUT path`` with a JSON body or raw data, and return the decoded answer.

        Raises:
            OrthancHTTPError: The server answered an error status.
            OrthancTransportError: No answer.

        Example:
            >>> pacs = {"AET": "PACS", "Host": "127.0.0.1", "Port": 104}
            >>> await client.put(("modalities", "PACS"), json=pacs)  # doctest: +SKIP
        """
        response = await self.request(
            "PUT",
            path,
            json=json,
            data=data,
            params=params,
            headers=headers,
            timeout=timeout,
            retry=retry,
        )
        return decode_body(response)

    async def delete(
        self,
        path: PathTypes,
        *,
        params: ParamTypes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = UNSET,
        retry: bool | None = None,
    ) -> Any:
        """Send ``DELETE path`` and return the decoded answer (often None or ``{}``).

        Raises:
            OrthancHTTPError: The server answered an error status, e.g. NotFoundError.
            OrthancTransportError: No answer.

        Example:
            >>> await client.delete(("studies", study_id))  # doctest: +SKIP
        """
        response = await self.request(
            "DELETE", path, params=params, headers=headers, timeout=timeout, retry=retry
        )
        return decode_body(response)

    async def get_bytes(
        self,
        path: PathTypes,
        *,
        params: ParamTypes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = UNSET,
        retry: bool | None = None,
    ) -> bytes:
        """Send ``GET path`` and return the body as bytes, whatever its type.

        Raises:
            OrthancHTTPError: The server answered an error status.
            OrthancTransportError: No answer.

        Example:
            >>> dicom = await client.get_bytes(("instances", instance_id, "file"))  # doctest: +SKIP
        """
        response = await self.request(
            "GET", path, params=params, headers=headers, timeout=timeout, retry=retry
        )
        return response.content

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: PathTypes,
        *,
        params: ParamTypes | None = None,
        json: Any = None,
        data: RequestData | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = UNSET,
    ) -> AsyncIterator[httpx.Response]:
        """Send a request and yield the ``httpx.Response`` before its body is read.

        The status is checked first: an error answer raises (with Orthanc's message) and yields
        nothing, so an error page never ends up in a file. Read the body in chunks with
        ``response.aiter_bytes()``.

        Raises:
            OrthancHTTPError: The server answered an error status.
            OrthancTransportError: No answer, or the connection broke while reading.

        Example:
            >>> async with client.stream("GET", ("studies", study_id, "archive")) as response:
            ...     async for chunk in response.aiter_bytes():  # doctest: +SKIP
            ...         sink.write(chunk)
        """
        request = self._build_request(
            method, path, params=params, json=json, data=data, headers=headers, timeout=timeout
        )
        response = await self._send(request, stream=True, retry=None)
        try:
            yield response
        except httpx.TransportError as error:
            raise transport_error(error, request.method, str(request.url)) from error
        finally:
            await response.aclose()

    async def request(
        self,
        method: str,
        path: PathTypes,
        *,
        params: ParamTypes | None = None,
        json: Any = None,
        data: RequestData | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = UNSET,
        retry: bool | None = None,
    ) -> httpx.Response:
        """Send any request and return the read ``httpx.Response`` once its status is checked.

        Args:
            method: The HTTP method.
            path: The route, a string or a sequence of segments (each quoted whole).
            params: Query values.
            json: A JSON body.
            data: A raw body: bytes, text, or an iterable of bytes (streamed, never retried).
            headers: Extra headers for this request.
            timeout: This request's timeout, overriding the client's.
            retry: True to allow retrying a non-idempotent request, False to forbid retries.

        Raises:
            OrthancHTTPError: The server answered an error status.
            OrthancTransportError: No answer after the allowed retries.

        Example:
            >>> response = await client.request("GET", "system")  # doctest: +SKIP
        """
        request = self._build_request(
            method, path, params=params, json=json, data=data, headers=headers, timeout=timeout
        )
        return await self._send(request, stream=False, retry=retry)

    async def _send(
        self, request: httpx.Request, *, stream: bool, retry: bool | None
    ) -> httpx.Response:
        if self._http.is_closed:
            raise self._closed_error(request)
        course, streamed = self._retrying(), is_streamed(request)
        while True:
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as error:
                delay = self._retry_delay(
                    request, course, streamed=streamed, error=error, retry=retry
                )
                if delay is None:
                    raise transport_error(error, request.method, str(request.url)) from error
            else:
                delay = self._retry_delay(
                    request, course, streamed=streamed, status=response.status_code, retry=retry
                )
                if delay is None:
                    return await self._checked(response, stream=stream)
                await response.aclose()
            await sleep(delay)

    async def _checked(self, response: httpx.Response, *, stream: bool) -> httpx.Response:
        logger.debug(
            "%s %s -> %d", response.request.method, response.request.url, response.status_code
        )
        if response.is_success:
            if not stream:
                await response.aread()
            return response
        try:
            await response.aread()
        except httpx.TransportError as error:
            request = response.request
            raise transport_error(error, request.method, str(request.url)) from error
        finally:
            await response.aclose()
        raise error_from_response(response)

    async def system(self) -> SystemInfo:
        """Return the server's identity and settings (``GET /system``).

        Raises:
            OrthancHTTPError: The server answered an error status.
            OrthancTransportError: No answer.

        Example:
            >>> (await client.system()).version  # doctest: +SKIP
            '1.12.7'
        """
        return SystemInfo.from_json(await self._get_object("system"))

    async def statistics(self) -> Statistics:
        """Return counts and disk usage (``GET /statistics``), sizes as integers.

        Example:
            >>> (await client.statistics()).count_instances  # doctest: +SKIP
            36
        """
        return Statistics.from_json(await self._get_object("statistics"))

    async def capabilities(self, *, refresh: bool = False) -> Capabilities:
        """Return what the server supports, asked once and then remembered.

        Two requests (``/system``, ``/plugins``), and a third (``GET /kk/``) when the Python
        plugin is loaded, to detect the KkOrthanc plugin (``kk_plugin``, feature
        ``"kk_routes"``).

        Args:
            refresh: Ask the server again (after an upgrade, or a plugin change).

        Raises:
            OrthancHTTPError: The server answered an error status (a 404 under ``/kk/`` only
                means the KkOrthanc plugin is absent).
            OrthancTransportError: No answer.
            UnexpectedContentError: ``/system`` or ``/plugins`` answered something else.

        Example:
            >>> (await client.capabilities()).supports("labels")  # doctest: +SKIP
            True
        """
        if self._capabilities is None or refresh:
            system = await self.system()
            plugins = await self.get("plugins")
            if not isinstance(plugins, list):
                raise UnexpectedContentError(f"GET /plugins answered {plugins!r}, not a list")
            names = tuple(str(name) for name in plugins)
            kk = await plugin_version(self) if "python" in names else None
            self._capabilities = Capabilities(system, names, kk_plugin=kk)
        return self._capabilities

    def lane_settings(self) -> LaneSettings | None:
        """What the transfer fast lane needs to send requests exactly as this client would, or
        None when its settings need httpx (a custom transport, event hooks, a closed client,
        or a configuration :meth:`LaneSettings.from_config` refuses).

        The bulk transfer engines ask it; it sends nothing.

        Example:
            >>> AsyncOrthanc("https://pacs.example").lane_settings() is None
            True
        """
        if self._transport_given or self._http.is_closed or any(self._event_hooks.values()):
            return None
        return LaneSettings.from_config(self._config)

    async def _get_object(self, path: PathTypes) -> dict[str, Any]:
        value = await self.get(path)
        if not isinstance(value, dict):
            raise UnexpectedContentError(
                f"GET {path} answered {type(value).__name__}, not an object"
            )
        return value

    # Methods of later layers: the tree below; upload, download and export in
    # _transfer_methods.py; the changes feed and bulk operations in _operation_methods.py.

    # ---- resources: the tree (collections and lookups are in client.patients etc.) ----

    async def tree(
        self,
        query: Mapping[str, Any] | None = None,
        /,
        *,
        depth: str = "Instance",
        case_sensitive: bool | None = None,
        **tags: Any,
    ) -> AsyncTree:
        """Patients with their studies, series and instances and all their main tags.

        One request with the KkOrthanc server plugin (client option ``use_kk_plugin``) when the
        filters name patient and study tags only (and ``case_sensitive`` is given for a person
        name), else one expanded ``/tools/find`` per level (4 for a full tree), however many
        resources; both give the same tree. Filters may name tags of any level: a resource is
        kept when it matches the filters of its own level and above, and has a matching
        descendant for the filters of the levels below (``tree(Modality="CT")`` gives the
        patients and studies that have a CT series, with only their CT series).

        Args:
            query: Tags (keywords or ``"gggg,eeee"``) to values, as in ``client.studies.find()``.
            depth: The lowest level to fetch: ``"Patient"``, ``"Study"``, ``"Series"`` or
                ``"Instance"`` (the default).
            case_sensitive: Whether person names match case-sensitively (None: server default).
            **tags: More tags to values.

        Raises:
            OrthancInputError: An unknown tag, a bad value, a bad depth.

        Example:
            >>> tree = await client.tree(StudyDate="20210101-")  # doctest: +SKIP
            >>> print(tree)  # doctest: +SKIP
            >>> tree.to_dataframe("series")  # doctest: +SKIP
        """
        return await fetch_tree(self, query, tags, depth=depth, case_sensitive=case_sensitive)
