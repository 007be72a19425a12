"""The plugin README's main commands run the example service over ZeroMQ, with nothing else installed."""

from __future__ import annotations

import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from soa_zmq._settings import server_options
from soa_zmq.router import stop_router
from tests.zmq_transport.cluster import REPO_ROOT, short_ipc_dir

README = REPO_ROOT / "plugins" / "zmq_transport" / "README.md"
README_SOCKET = "/tmp/example-service.sock"


def _commands(shell: str) -> list[list[str]]:
    """The README's shell lines as argument lists (continuations joined, comments and ``&`` dropped)."""
    joined = shell.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[-1] == "&":
            words.pop()
        if words:
            commands.append(words)
    return commands


def test_the_readme_serves_and_calls_the_example_service(tmp_path: Path) -> None:
    text = README.read_text()
    settings = re.findall(r"```python\n(.*?)```", text, flags=re.S)[1]
    shell = re.findall(r"```sh\n(.*?)```", text, flags=re.S)[0]
    assert README_SOCKET in settings
    # A private socket instead of the README's fixed one, so that nothing else can collide with it.
    directory = short_ipc_dir()
    socket_path = f"{directory}/example.sock"
    (tmp_path / "zmq_settings.py").write_text(settings.replace(README_SOCKET, socket_path))

    serve, call, stop = _commands(shell.replace(README_SOCKET, socket_path))
    bin_dir = str(Path(sys.executable).parent)
    assert serve[0] == call[0] == ".venv/bin/soa"
    assert stop == ["kill", "%1"]
    serve[0] = call[0] = f"{bin_dir}/soa"

    server = subprocess.Popen(serve, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        result = subprocess.run(call, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["{", '"square":', "49", "}"]
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
        stop_router(server_options({"endpoint": f"ipc://{socket_path}"}).lock_file)
        shutil.rmtree(directory, ignore_errors=True)
    assert server.returncode == 0, output
