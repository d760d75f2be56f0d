"""``letdown serve`` and ``demo``: the web app for the household, and its demo."""

# Each command imports what it needs when it runs, so that `letdown --help` starts fast.

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from letdown.cli import _common
from letdown.cli._common import DbUrl, _fail, _guard, _open_journal, _opt, _say
from letdown.cli.pump import _terminal_demo

if TYPE_CHECKING:
    import socket

    import uvicorn
    from starlette.types import ASGIApp

    from letdown.journal.book import Journal
    from letdown.web.settings import Settings

app = typer.Typer()

DEMO_SPEED = 10.0
"""How fast the demo's simulated pump runs in the app (times real time)."""
TERMINAL_SPEED = 20.0
TERMINAL_ONLY = ("--profile", "--program", "--minutes")
WS_MAX_BYTES = 64 * 1024
"""A phone sends nothing on the live socket that needs more (Uvicorn's default: 16 MiB)."""

Host = Annotated[
    str,
    typer.Option("--host", help="Address to listen on (0.0.0.0: every network of this machine)."),
]
Port = Annotated[
    int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one).")
]

Mqtt = Annotated[
    str | None,
    _opt(
        "--mqtt",
        help="Publish to Home Assistant over MQTT: the broker, mqtt://user:password@host:1883.",
    ),
]
MqttMember = Annotated[
    str | None,
    _opt(
        "--mqtt-member",
        help="The member Home Assistant's buttons act as, with that member's role "
        "(a viewer's are refused; without one, every button is refused).",
    ),
]
TlsCert = Annotated[
    Path | None,
    _opt("--tls-cert", help="Serve HTTPS with this certificate (PEM; with --tls-key)."),
]
TlsKey = Annotated[Path | None, _opt("--tls-key", help="The certificate's private key (PEM).")]


@app.command("serve")
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    db_url: DbUrl = None,
    proxy_headers: Annotated[
        bool | None,
        typer.Option(
            "--proxy-headers/--no-proxy-headers",
            help="Behind a reverse proxy: take the caller's address and scheme from its "
            "X-Forwarded-For/-Proto headers, from --forwarded-allow-ips only "
            "(default: off, or LETDOWN_PROXY_HEADERS).",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        _opt(
            "--forwarded-allow-ips",
            help="Comma-separated addresses of the reverse proxy whose forwarded headers are "
            "trusted (default 127.0.0.1, or LETDOWN_FORWARDED_ALLOW_IPS).",
        ),
    ] = None,
    mqtt: Mqtt = None,
    mqtt_member: MqttMember = None,
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
) -> None:
    """Run the web app: the household's journal and the live pump, for every phone at home.

    Forwarded headers are ignored unless --proxy-headers is given: anyone could send one
    to hide their address from the login limit. See docs/security.md.
    """
    from letdown.journal import Accounts
    from letdown.web.settings import Settings

    tls = _check_tls(tls_cert, tls_key)
    _check_mqtt(mqtt)
    with _listening(host, port) as (sock, url), _open_journal(db_url, create=True) as journal:
        chosen: dict[str, object] = {}
        if proxy_headers is not None:
            chosen["proxy_headers"] = proxy_headers
        if forwarded_allow_ips is not None:
            chosen["forwarded_allow_ips"] = forwarded_allow_ips
        if tls is not None:
            url = url.replace("http://", "https://", 1)
        settings = Settings(
            db=db_url,
            host=host,
            port=sock.getsockname()[1],
            secure_cookies=tls is not None,
            public_url=url,
            **chosen,  # type: ignore[arg-type]
        )
        # Given here, or else from LETDOWN_MQTT and LETDOWN_MQTT_MEMBER.
        if mqtt is not None:
            settings.mqtt = mqtt
        if mqtt_member is not None:
            settings.mqtt_member = mqtt_member
        _check_mqtt(settings.mqtt)
        _say(f"letdown is at {url}  (journal: {_where(journal)})")
        if settings.mqtt:
            _say(f"publishing to Home Assistant over MQTT ({_shown_broker(settings.mqtt)})")
        if not Accounts(journal.engine).any():
            _say(f"first start: open {url}/setup to create your household")
        _run_app(settings, journal, sock, open_browser=None, tls=tls)


def _check_tls(cert: Path | None, key: Path | None) -> tuple[str, str] | None:
    """Both files, readable and matching, or a clear error before anything starts."""
    import ssl

    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise _fail("--tls-cert and --tls-key go together: give both (or neither)")
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not path.is_file():
            raise _fail(f"{flag} {path}: no such file")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise _fail(
            f"--tls-cert {cert} / --tls-key {key}: not a certificate and its key in PEM "
            f"({exc.strerror or exc})"
        ) from None
    return str(cert), str(key)


def _check_mqtt(url: str | None) -> None:
    if url is None:
        return
    from letdown.web.mqtt import MqttUrlError, parse_broker

    try:
        parse_broker(url)
    except MqttUrlError as exc:
        raise _fail(str(exc)) from None


def _shown_broker(url: str) -> str:
    from letdown.web.mqtt import parse_broker

    return parse_broker(url).shown


@app.command()
def demo(
    port: Port = 8000,
    host: Host = "127.0.0.1",
    speed: Annotated[
        float | None,
        _opt(
            "--speed",
            min=0,
            help=f"Times real time: the app's simulated pump (default {DEMO_SPEED:g}, at most "
            f"100); with --terminal, 0 runs as fast as possible (default {TERMINAL_SPEED:g}).",
        ),
    ] = None,
    db_url: DbUrl = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open the app in a browser.")
    ] = False,
    terminal: Annotated[
        bool,
        typer.Option("--terminal", help="Instead of the app, one session shown in the terminal."),
    ] = False,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Which generated parent (and demo history).")
    ] = 0,
    profile: Annotated[
        str | None, _opt("--profile", help="With --terminal: the parent's profile (typical).")
    ] = None,
    program_name: Annotated[
        str | None,
        _opt("--program", help="With --terminal: two-phase (the default) or constant."),
    ] = None,
    minutes: Annotated[
        float | None,
        _opt("--minutes", min=0.1, max=60, help="With --terminal: stop after this long."),
    ] = None,
    mqtt: Mqtt = None,
    mqtt_member: MqttMember = None,
) -> None:
    """The app with a simulated pump and a demo household: log in and try everything.

    The demo household ("Demo home", a few weeks of history) goes into the journal the
    first time, if it holds no household yet; a journal with a household is left alone.
    """
    if terminal:
        _terminal_demo(
            TERMINAL_SPEED if speed is None else speed,
            seed,
            profile or "typical",
            program_name or "two-phase",
            minutes,
        )
        return
    given = [
        flag
        for flag, value in zip(TERMINAL_ONLY, (profile, program_name, minutes), strict=True)
        if value is not None
    ]
    if given:
        raise _fail(f"{', '.join(given)}: only with --terminal (the session in the terminal)")
    speed = DEMO_SPEED if speed is None else speed
    if not 0 < speed <= 100:
        raise _fail(
            f"--speed {speed:g}: the app's simulated pump runs above 0 and at most 100 times "
            "real time (--terminal --speed 0 runs a session as fast as possible)"
        )
    from letdown.journal import Role
    from letdown.web.demo import PARTNER, ensure_demo_household
    from letdown.web.settings import Settings

    _check_mqtt(mqtt)
    with _listening(host, port) as (sock, url), _open_journal(db_url, create=True) as journal:
        settings = Settings(
            db=db_url,
            host=host,
            port=sock.getsockname()[1],
            device="sim",
            sim_speed=speed,
            sim_seed=seed,
            public_url=url,
            mqtt=mqtt,
            # The demo's buttons act as Sam, the partner, unless told otherwise.
            mqtt_member=mqtt_member or PARTNER.member,
        )
        with _common.err.status("setting up the demo household…"):
            made = ensure_demo_household(journal, seed=seed)
        _say(f"{made.message} (journal: {_where(journal)})")
        _say(f"[bold]letdown demo[/] is at [bold]{url}[/]", markup=True)
        if made.logins:
            table = Table(title=f"log in with the password {made.password}", title_justify="left")
            for column in ("login", "who", "may"):
                table.add_column(column)
            for login in made.logins:
                may = "look only" if login.role is Role.VIEWER else "run the pump, write"
                table.add_row(login.login, f"{login.member} ({login.role.value})", may)
            _common.console.print(table)
        else:
            _say("log in with your own login (the demo logins are not in this journal)")
        if mqtt:
            _say(
                f"publishing to Home Assistant over MQTT ({_shown_broker(mqtt)}); its buttons "
                f"act as {settings.mqtt_member}"
            )
        _say(f"the simulated pump runs at {speed:g} times real time; Ctrl-C stops letdown")
        _run_app(settings, journal, sock, open_browser=None if no_browser else url)


def _where(journal: Journal) -> str:
    return journal.engine.url.render_as_string(hide_password=True)


@contextmanager
def _listening(host: str, port: int) -> Iterator[tuple[socket.socket, str]]:
    """The bound socket and its address, or a clear error (a busy port, say)."""
    from letdown.web.demo import address, listen

    with _guard():
        sock = listen(host, port)
    try:
        url = address(sock)
        if host in ("0.0.0.0", "::"):
            bound = sock.getsockname()[1]
            _say(f"listening on every network: phones at home open this machine's address:{bound}")
        yield sock, url
    finally:
        sock.close()


def _run_app(
    settings: Settings,
    journal: Journal,
    sock: socket.socket,
    *,
    open_browser: str | None,
    tls: tuple[str, str] | None = None,
) -> None:
    """Uvicorn, one worker, on the bound socket until Ctrl-C (HTTPS with ``tls``)."""
    import threading

    import uvicorn

    from letdown.web.app import create_app

    cert, key = tls if tls is not None else (None, None)
    config = uvicorn_config(
        create_app(settings, journal=journal), ssl_certfile=cert, ssl_keyfile=key
    )
    server = uvicorn.Server(config)
    if open_browser is not None and _has_browser():
        threading.Thread(
            target=_open_when_started, args=(server, open_browser), daemon=True
        ).start()
    with suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        raise _fail("the app did not start (see the log above)")
    _say("letdown stopped")


def uvicorn_config(app: ASGIApp, **options: Any) -> uvicorn.Config:
    """How letdown runs under Uvicorn (the tests' real servers run the same)."""
    import uvicorn

    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        # The app reads a proxy's headers itself, only when told to (Settings.proxy_headers):
        # Uvicorn's own default trusts them from 127.0.0.1, where any local program is.
        proxy_headers=False,
        ws_max_size=WS_MAX_BYTES,
        **options,
    )


def _has_browser() -> bool:
    """A graphical browser to open, as far as can be told (never a text one in this terminal)."""
    import os
    import sys

    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open_when_started(server: uvicorn.Server, url: str) -> None:
    import webbrowser

    for _ in range(200):
        if server.started:
            webbrowser.open(url)
            return
        if server.should_exit:
            return
        time.sleep(0.05)
