"""The test broker really carries messages (the gateway packet tests stand on it)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import aiomqtt


def test_a_published_message_reaches_a_subscriber(mqtt_url: str) -> None:
    parts = urlsplit(mqtt_url)

    async def round_trip() -> bytes:
        host, port = parts.hostname or "127.0.0.1", parts.port or 1883
        async with aiomqtt.Client(host, port) as subscriber, aiomqtt.Client(host, port) as sender:
            await subscriber.subscribe("depotgrid/test/#", qos=1)
            await sender.publish("depotgrid/test/ping", b"pong", qos=1)
            async with asyncio.timeout(5):
                async for message in subscriber.messages:
                    return bytes(message.payload)
        raise AssertionError("no message")

    assert asyncio.run(round_trip()) == b"pong"
