"""Orthanc peers: other Orthanc servers this one sends to over HTTP.

A peer is reached over HTTP, not DICOM: its transfer is ``send`` (a modality's is ``c_store``).

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._core.models.operations import PeerConfig, as_network_error, check_name, unknown_name
from ..._core.seam import AsyncSeam
from ...errors import OrthancHTTPError, OrthancInputError, UnexpectedContentError
from ._jobs import AsyncJob, AsyncJobs
from ._modalities import Resources, resource_ids

__all__ = ["AsyncPeer", "AsyncPeers"]


class AsyncPeer:
    """An Orthanc peer the server knows.

    Attributes:
        client: The client it was obtained from.
        config: Its configuration (:class:`PeerConfig`).
    """

    def __init__(self, client: AsyncSeam, config: PeerConfig) -> None:
        self.client = client
        self.config = config

    @property
    def name(self) -> str:
        """The symbolic name used in routes."""
        return self.config.name

    @property
    def url(self) -> str:
        """The peer's base URL."""
        return self.config.url

    async def system(self) -> dict[str, Any]:
        """The peer's ``/system``, asked by the server (checks that it reaches the peer).

        Raises:
            DicomNetworkError: The server cannot reach the peer, or the peer refused it.

        Example:
            >>> (await peer.system())["Version"]  # doctest: +SKIP
            '1.12.7'
        """
        try:
            answer = await self.client.get(("peers", self.name, "system"))
        except OrthancHTTPError as error:
            raise as_network_error(error, f"reaching peer {self.name}") from error
        if not isinstance(answer, Mapping):
            raise UnexpectedContentError(f"system of peer {self.name}: {answer!r}")
        return dict(answer)

    async def send(self, resources: Resources) -> dict[str, Any]:
        """Send resources of this server to the peer and wait; return Orthanc's report.

        Raises:
            DicomNetworkError: The transfer failed (peer unreachable, credentials refused).
            OrthancInputError: No resources.

        Example:
            >>> report = await peer.send([study])  # doctest: +SKIP
        """
        body = {"Resources": resource_ids(resources), "Synchronous": True}
        return dict(await self._post_store(body) or {})

    async def send_job(self, resources: Resources) -> AsyncJob:
        """Start sending resources to the peer as a job; wait with ``job.wait()``.

        Raises:
            OrthancInputError: No resources.

        Example:
            >>> await (await peer.send_job([study])).wait(timeout=600)  # doctest: +SKIP
        """
        answer = await self._post_store(
            {"Resources": resource_ids(resources), "Asynchronous": True}
        )
        return await AsyncJobs(self.client).from_answer(answer)

    async def _post_store(self, body: dict[str, Any]) -> Any:
        try:
            return await self.client.post(("peers", self.name, "store"), json=body)
        except OrthancHTTPError as error:
            raise as_network_error(error, f"sending to peer {self.name}") from error

    def __repr__(self) -> str:
        return f"AsyncPeer({self.name!r}, {self.url!r})"


class AsyncPeers:
    """The Orthanc peers the server knows: ``client.peers``.

    Example:
        >>> [peer.name for peer in await client.peers.list()]  # doctest: +SKIP
    """

    def __init__(self, client: AsyncSeam) -> None:
        self._client = client

    async def list(self) -> list[AsyncPeer]:
        """Every peer with its configuration, in one request.

        Raises:
            OrthancHTTPError: The server answered an error status.

        Example:
            >>> await client.peers.list()  # doctest: +SKIP
        """
        answer = await self._client.get("peers", params={"expand": True})
        if not isinstance(answer, Mapping):
            raise UnexpectedContentError(f"GET /peers?expand answered {answer!r}")
        return [
            AsyncPeer(self._client, PeerConfig.from_json(name, raw))
            for name, raw in sorted(answer.items())
        ]

    async def get(self, name: str) -> AsyncPeer:
        """The peer of that name.

        Raises:
            NotFoundError: Unknown peer.
            OrthancInputError: A malformed name.

        Example:
            >>> site2 = await client.peers.get("site2")  # doctest: +SKIP
        """
        check_name(name, "peer")
        for peer in await self.list():
            if peer.name == name:
                return peer
        raise unknown_name(self._client.url, "peers", name)

    async def configure(
        self,
        name: str,
        *,
        url: str,
        username: str | None = None,
        password: str | None = None,
        **options: Any,
    ) -> AsyncPeer:
        """Create or replace a peer and return it.

        Args:
            name: The symbolic name: letters, digits, ``-`` and ``_``.
            url: The peer's base URL, e.g. ``http://10.0.0.2:8042/``.
            username: The user name the server sends, if the peer needs one.
            password: Its password.
            **options: More of Orthanc's settings, e.g. ``HttpHeaders={...}``.

        Raises:
            OrthancInputError: A malformed name or URL.
            BadRequestError: The server refused the configuration.

        Example:
            >>> await client.peers.configure("site2", url="http://10.0.0.2:8042/")  # doctest: +SKIP
        """
        check_name(name, "peer")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise OrthancInputError(f"a peer URL starts with http:// or https://, got {url!r}")
        config: dict[str, Any] = {"Url": url, **options}
        if username is not None:
            config.update(Username=username, Password=password or "")
        await self._client.put(("peers", name), json=config)
        return await self.get(name)

    async def delete(self, name: str) -> None:
        """Forget the peer of that name.

        Raises:
            NotFoundError: Unknown peer.

        Example:
            >>> await client.peers.delete("site2")  # doctest: +SKIP
        """
        await self.get(name)
        await self._client.delete(("peers", name))
