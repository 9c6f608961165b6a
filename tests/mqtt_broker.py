"""A private mosquitto for tests that must restart the broker or need passwords.

Tests that only need *a* broker use AUTOGENESIS_TEST_MQTT_URL (the machine's
mosquitto); these start `mosquitto` on a free port with a config file of
their own (TCP_NODELAY, queue limits as in deploy/mosquitto.conf, and a
password file and an ACL file when asked), so they can stop and start it at will.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, folder: Path, *, users: dict[str, str] | None = None,
                 acl: Path | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # As root, mosquitto would switch to its own user, who cannot read this folder.
        lines = [f"user {getpass.getuser()}", f"listener {self.port} 127.0.0.1",
                 "set_tcp_nodelay true",
                 "max_queued_messages 100000", "persistence false",
                 f"log_dest file {folder / 'mosquitto.log'}"]
        if users:
            passwords = folder / "passwords"
            passwords.touch()
            for user, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password],
                               check=True, capture_output=True)
            passwords.chmod(0o600)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
            if acl is not None:
                lines.append(f"acl_file {acl}")
        else:
            lines.append("allow_anonymous true")
        self.config = folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")

    def url(self, user: str | None = None, password: str | None = None,
            prefix: str = "agtest") -> str:
        auth = f"{user}:{password}@" if user else ""
        return f"mqtt://{auth}127.0.0.1:{self.port}/{prefix}"

    def start(self) -> Broker:
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def restart(self, down_s: float = 0.5) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


@pytest.fixture
def broker(tmp_path: Path):
    started = Broker(tmp_path).start()
    yield started
    started.stop()
