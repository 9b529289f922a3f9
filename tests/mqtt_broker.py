"""A real MQTT broker for the tests that need one.

DEPOTGRID_TEST_MQTT_URL (mqtt://host:port) when set; else a throwaway Mosquitto on a free port,
started from the installed binary (scripts/test installs Debian's mosquitto when it is absent).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

ENV = "DEPOTGRID_TEST_MQTT_URL"


@contextmanager
def mqtt_broker(workdir: Path, port: int) -> Iterator[str]:
    """Yield a reachable broker URL for the duration of the block; `port` for a throwaway one."""
    configured = os.environ.get(ENV)
    if configured:
        _wait_until_open(configured, timeout=5)
        yield configured
        return
    binary = shutil.which("mosquitto") or _debian_binary()
    if binary is None:
        raise RuntimeError(
            f"no MQTT broker: install mosquitto (apt-get install mosquitto) or set {ENV}"
        )
    config = workdir / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    log = (workdir / "mosquitto.log").open("w")
    process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=log)
    url = f"mqtt://127.0.0.1:{port}"
    try:
        _wait_until_open(url, timeout=10)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _debian_binary() -> str | None:
    path = Path("/usr/sbin/mosquitto")
    return str(path) if path.exists() else None


def _wait_until_open(url: str, *, timeout: float) -> None:
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 1883), 1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the MQTT broker at {url} does not answer") from None
            time.sleep(0.05)
