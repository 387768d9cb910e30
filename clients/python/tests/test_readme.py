"""The README's first example runs as printed: against a real gateway whose TCP port it reads
from SWITCHBOARD_PORT (9000 when unset), it says hello and prints what the room says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from switchboard_client import Client

README = Path(__file__).resolve().parents[1] / "README.md"
MAIN_README = Path(__file__).resolve().parents[3] / "README.md"


def first_python_example() -> str:
    match = re.search(r"```python\n(.*?)```", README.read_text("utf-8"), re.S)
    assert match, "README.md has no python example"
    return match.group(1)


def test_the_readme_example_runs_as_printed(gateway: Any, unique: Any) -> None:
    example = first_python_example()
    assert '"127.0.0.1"' in example and '"9000"' in example
    with Client("127.0.0.1", gateway.tcp_port, name=unique("talker")) as talker:
        process = subprocess.Popen(
            [sys.executable, "-c", example],
            env={**os.environ, "SWITCHBOARD_PORT": str(gateway.tcp_port)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            talker.wait_for("message", lambda m: m["text"] == "hello from Python", timeout=15)
            talker.say("hi, example")
            stdout, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, stderr
    assert stderr == ""
    lines = stdout.splitlines()
    assert "py-example: hello from Python" in lines
    assert f"{talker.name}: hi, example" in lines


def test_the_main_readme_shows_the_same_example() -> None:
    assert "```python\n" + first_python_example() + "```" in MAIN_README.read_text("utf-8")
