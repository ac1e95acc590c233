"""What the client trusts besides its arguments: proxies (``proxy=``, ``trust_env=``) and the
environment, against a real Orthanc behind a real (tiny) forward proxy; and a closed client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from _proxy import ForwardProxy, forward_proxy

from kkorthanc.errors import ClientClosedError, OrthancError
from kkorthanc.testing import sample_files

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD")


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForwardProxy]:
    """A forward proxy on loopback, and an environment without proxy variables."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with forward_proxy() as running:
        yield running


def auth_of(orthanc: Any) -> tuple[str, str] | None:
    return (orthanc.username, orthanc.password) if orthanc.username else None


def through(proxy: ForwardProxy, orthanc: Any, route: str) -> list[str]:
    """The request lines the proxy saw for ``route`` of this server."""
    return [line for line in proxy.seen if line.endswith(f"{orthanc.url.rstrip('/')}/{route}")]


def test_proxy_argument_sends_every_request_through_the_proxy(
    orthanc: Any, make_client: Any, proxy: ForwardProxy
) -> None:
    client = make_client(orthanc.url, auth=auth_of(orthanc), proxy=proxy.url)
    assert client.system().version == orthanc.version
    assert through(proxy, orthanc, "system") == [f"GET {orthanc.url.rstrip('/')}/system"]
    report = client.upload(sample_files()[0], skip_existing=False)  # small: the fast lane's
    assert report.ok
    assert through(proxy, orthanc, "instances"), proxy.seen  # the upload went through it too


def test_the_environment_proxy_is_ignored_by_default(
    orthanc: Any, make_client: Any, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    client = make_client(orthanc.url, auth=auth_of(orthanc))
    assert client.system().version == orthanc.version
    assert proxy.seen == []


def test_trust_env_honours_http_proxy(
    orthanc: Any, make_client: Any, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    client = make_client(orthanc.url, auth=auth_of(orthanc), trust_env=True)
    assert client.system().version == orthanc.version
    assert through(proxy, orthanc, "system")
    report = client.upload(sample_files()[0], skip_existing=False)
    assert report.ok and through(proxy, orthanc, "instances"), proxy.seen


def test_trust_env_honours_no_proxy(
    orthanc: Any, make_client: Any, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", f"example.org,{urlsplit(orthanc.url).hostname}")
    client = make_client(orthanc.url, auth=auth_of(orthanc), trust_env=True)
    assert client.system().version == orthanc.version
    assert proxy.seen == []


def test_proxy_argument_wins_over_no_proxy(
    orthanc: Any, make_client: Any, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "*")
    client = make_client(orthanc.url, auth=auth_of(orthanc), proxy=proxy.url, trust_env=True)
    assert client.system().version == orthanc.version
    assert through(proxy, orthanc, "system")


def test_a_closed_client_says_it_is_closed(
    orthanc: Any, make_client: Any, client_kind: str
) -> None:
    client = make_client(orthanc.url, auth=auth_of(orthanc))
    assert client.system().version == orthanc.version
    if client_kind == "sync":
        client.close()
    else:
        client.aclose()
    for attempt in (
        client.system,
        lambda: client.patients.list(),
        lambda: client.upload(sample_files()[0], skip_existing=False),
    ):
        with pytest.raises(ClientClosedError, match=r"client of .* is closed") as caught:
            attempt()
        assert isinstance(caught.value, OrthancError) and isinstance(caught.value, RuntimeError)
        assert "create a new client" in str(caught.value)
