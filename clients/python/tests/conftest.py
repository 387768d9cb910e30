"""A real gateway for the tests: ``node apps/gateway/dist/main.js`` (built by ``tsc -b``) on free
ports of 127.0.0.1, with its own data directory."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
MAIN_JS = REPO_ROOT / "apps" / "gateway" / "dist" / "main.js"
#: A gateway whose ids are taken per room (as on a Redis Cluster): per_room_gateway.mjs.
PER_ROOM_JS = Path(__file__).resolve().parent / "per_room_gateway.mjs"
BANNER = re.compile(r"page https?://[^:]+:(\d+)/.*TCP [^:\s]+:(\d+)")


class Gateway:
    """One gateway process; ``tcp_port`` and ``http_url`` once it is up."""

    def __init__(self, *extra: str, script: Path = MAIN_JS) -> None:
        if not MAIN_JS.exists():
            raise RuntimeError(f"{MAIN_JS} is missing: build the gateway first (node_modules/.bin/tsc -b)")
        self.data_dir = tempfile.TemporaryDirectory(prefix="switchboard-py-")
        node = os.environ.get("SWITCHBOARD_NODE", "node")
        args = [node, str(script), "--http-port", "0", "--tcp-port", "0", "--data-dir", self.data_dir.name,
                "--web-root", "", "--log-level", "warn", *extra]
        self.process = subprocess.Popen(args, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output: List[str] = []
        found = threading.Event()
        self._ports: Optional[re.Match[str]] = None

        def pump() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                match = BANNER.search(line)
                if match and self._ports is None:
                    self._ports = match
                    found.set()
            found.set()

        threading.Thread(target=pump, daemon=True).start()
        if not found.wait(30) or self._ports is None:
            self.stop()
            raise RuntimeError("the gateway did not start:\n" + "".join(self.output))
        self.http_port = int(self._ports.group(1))
        self.tcp_port = int(self._ports.group(2))
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        self.ws_url = f"ws://127.0.0.1:{self.http_port}/ws"

    def post(self, path: str, body: Dict[str, Any]) -> Any:
        request = urllib.request.Request(self.http_url + path, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.data_dir.cleanup()


@pytest.fixture(scope="session")
def gateway() -> Iterator[Gateway]:
    running = Gateway()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def fast_heartbeat_gateway() -> Iterator[Gateway]:
    """Pings a silent member after 300 ms and drops it 300 ms later."""
    running = Gateway("--heartbeat-ms", "300")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def per_room_gateway() -> Iterator[Gateway]:
    """Takes message ids per room: two rooms' ids do not compare."""
    running = Gateway(script=PER_ROOM_JS)
    yield running
    running.stop()


_names = iter(range(1, 1_000_000))


@pytest.fixture
def unique() -> Any:
    """Fresh names, so tests sharing a gateway never collide."""
    return lambda prefix: f"{prefix}{next(_names)}-{os.getpid() % 1000}"
