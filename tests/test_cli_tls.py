"""``letdown serve --tls-cert --tls-key``: HTTPS on the home network, with a made certificate."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tests.ports import free_port
from tests.test_cli_serve import START_TIMEOUT_S
from typer.testing import CliRunner

from letdown.cli import app

runner = CliRunner()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, as ``docs/https.md`` makes."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=letdown test",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_serve_speaks_https_with_the_given_certificate(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from letdown.cli import main; main()",
        "serve",
        "--port",
        str(port),
        "--db",
        f"sqlite:///{tmp_path / 'letdown.sqlite'}",
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
    ]
    trusting = ssl.create_default_context(cafile=str(cert))
    env = {**os.environ, "COLUMNS": "200"}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as server:
        try:
            deadline_s = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    with urllib.request.urlopen(
                        f"https://127.0.0.1:{port}/manifest.webmanifest",
                        timeout=5,
                        context=trusting,
                    ) as answer:
                        assert answer.status == 200
                        break
                except OSError:
                    if time.monotonic() > deadline_s or server.poll() is not None:
                        raise
                    time.sleep(0.1)
            with urllib.request.urlopen(
                f"https://127.0.0.1:{port}/login", timeout=5, context=trusting
            ) as answer:
                assert answer.geturl().endswith("/setup")
            # Plain HTTP on the same port gets no page.
            with pytest.raises(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5)
        finally:
            server.send_signal(signal.SIGINT)
            output, _ = server.communicate(timeout=30)
    assert f"letdown is at https://127.0.0.1:{port}" in output
    assert "Traceback" not in output


def test_tls_flags_are_checked_before_anything_starts(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    db = f"sqlite:///{tmp_path / 'letdown.sqlite'}"
    alone = runner.invoke(app, ["serve", "--db", db, "--port", "0", "--tls-cert", str(cert)])
    assert alone.exit_code == 2 and "go together" in alone.output
    missing = runner.invoke(
        app, ["serve", "--db", db, "--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(key)]
    )
    assert missing.exit_code == 2 and "no such file" in missing.output
    swapped = runner.invoke(
        app, ["serve", "--db", db, "--tls-cert", str(key), "--tls-key", str(cert)]
    )
    assert swapped.exit_code == 2 and "not a certificate and its key" in swapped.output
    bad_mqtt = runner.invoke(app, ["serve", "--db", db, "--mqtt", "http://broker"])
    assert bad_mqtt.exit_code == 2 and "mqtt://host:1883" in bad_mqtt.output
