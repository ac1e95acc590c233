"""The fast lane: plain keep-alive HTTP/1.1 connections for bulk requests, without httpx.

May import: :mod:`kkorthanc._core` (the protocol, the seam), :mod:`kkorthanc.errors`.
"""
