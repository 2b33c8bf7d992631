"""A real, throwaway PostgreSQL server for the tests in this directory.

The session starts its own cluster: `initdb` into a fresh temp dir, `pg_ctl start` on a free
127.0.0.1 port (its unix socket also lives in the temp dir), and `pg_ctl stop` + delete at the end.
Durability is switched off (fsync, synchronous_commit, full_page_writes): the data is thrown away.

PostgreSQL refuses to run as root. When the tests run as root, initdb and pg_ctl run as an
unprivileged user (`nobody`, or DESKHAND_PG_USER) through subprocess's own setuid/setgid (no su or
sudo needed), on a temp dir chowned to that user.

The server's time zone is deliberately not UTC (DESKHAND_PG_TIMEZONE, default
America/New_York), as on many real servers, so code that leans on the server's zone is caught.

Binaries are found via DESKHAND_PG_BIN, then `initdb` on PATH, then /usr/lib/postgresql/*/bin.
Without them these tests skip, unless DESKHAND_REQUIRE_POSTGRES=1 (CI sets it), where they fail.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRED = os.environ.get("DESKHAND_REQUIRE_POSTGRES", "") not in ("", "0")
SUPERUSER = "deskhand"
TIMEZONE = os.environ.get("DESKHAND_PG_TIMEZONE", "America/New_York")
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "32MB",
    "timezone": TIMEZONE,
    "log_min_messages": "warning",
}
_db_names = itertools.count(1)


def _unavailable(reason: str) -> None:
    """Skip locally; fail where Postgres is required (CI)."""
    if REQUIRED:
        pytest.fail(f"DESKHAND_REQUIRE_POSTGRES is set but {reason}", pytrace=False)
    pytest.skip(reason)


def find_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres (symlinks resolved), if any."""
    candidates = []
    if os.environ.get("DESKHAND_PG_BIN"):
        candidates.append(os.environ["DESKHAND_PG_BIN"])
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(os.path.dirname(os.path.realpath(on_path)))

    def major(path: str) -> int:
        version = Path(path).parent.name
        return int(version) if version.isdigit() else 0

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True)
    for candidate in candidates:
        path = Path(candidate)
        if all(os.access(path / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return path
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _world_traversable(path: Path) -> bool:
    """Can another user reach `path` (every ancestor has o+x)?"""
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


@dataclass
class PostgresServer:
    """A running throwaway cluster: make databases on it and get SQLAlchemy URLs for them."""

    bindir: Path
    root: Path
    port: int
    run_as: dict

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str) -> str:
        """The URL the app is configured with (DESKHAND_DATABASE_URL)."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def admin(self):  # type: ignore[no-untyped-def]
        """An autocommit connection to the maintenance database."""
        import psycopg

        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        )

    def create_database(self, prefix: str = "t", template: str | None = None) -> str:
        """A new empty database (or a copy of `template`); returns its name."""
        name = f"{prefix}_{next(_db_names)}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, ending any connection a test left open."""
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a server binary as the cluster's owner."""
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
            env={**os.environ, "LC_ALL": "C", "TZ": "UTC"},
            **self.run_as,
        )

    def log_tail(self, lines: int = 40) -> str:
        log = self.root / "server.log"
        return (
            "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""
        )

    def start(self) -> None:
        options = " ".join(f"-c {key}={value}" for key, value in SERVER_SETTINGS.items())
        options += f" -p {self.port} -k {self.root}"  # TCP port; unix socket in our own dir
        result = self.run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"pg_ctl start failed ({result.returncode}): {result.stderr.strip()}\n"
                f"{self.log_tail()}"
            )

    def restart(self) -> None:
        """Stop (ending every connection) and start again on the same port."""
        self.stop()
        self.start()

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop", check=False)


def _start_server(bindir: Path) -> PostgresServer:
    run_as: dict = {}
    owner = None
    if os.geteuid() == 0:
        owner = pwd.getpwnam(os.environ.get("DESKHAND_PG_USER", "nobody"))
        run_as = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    base = Path(tempfile.gettempdir())
    if owner is not None and not _world_traversable(base):
        base = Path("/tmp")  # the unprivileged owner must be able to reach its data dir
    root = Path(tempfile.mkdtemp(prefix="deskhand-pg-", dir=base))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    server = PostgresServer(bindir=bindir, root=root, port=0, run_as=run_as)
    try:
        init = server.run(
            "initdb",
            "-D",
            str(server.datadir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
            check=False,
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed ({init.returncode}): {init.stderr.strip()}")
        for attempt in range(3):  # another process may grab the free port before we bind it
            server.port = _free_port()
            try:
                server.start()
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                time.sleep(0.2)
    except BaseException:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the whole session (about a second to initdb and start)."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        _unavailable(f"the postgres extra is not installed ({exc}); pip install -e '.[dev]'")
    bindir = find_bindir()
    if bindir is None:
        _unavailable(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; "
            "apt-get install postgresql, or set DESKHAND_PG_BIN"
        )
    server = _start_server(bindir)  # a failure here is an error, never a skip
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh empty database for one test, as the app's DESKHAND_DATABASE_URL."""
    name = postgres_server.create_database("empty")
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


def close_app(app) -> None:  # type: ignore[no-untyped-def]
    """Release every connection an app holds (its SQLAlchemy pool)."""
    app.engine.dispose()


@dataclass
class SampleTemplate:
    """A sample-loaded Postgres database plus the matching data dir, built once per session."""

    dbname: str
    home: Path


@pytest.fixture(scope="session")
def pg_sample_template(
    postgres_server, sample_template, tmp_path_factory, embedder
) -> SampleTemplate:
    """The bundled sample loaded into an empty Postgres database once, by a plain Deskhand."""
    from tests.conftest import make_app

    dbname = postgres_server.create_database("sample")
    home = tmp_path_factory.mktemp("pg-sample") / "home"
    app = make_app(home, embedder, database_url=postgres_server.url(dbname))
    assert app.engine.dialect.name == "postgresql"
    # The classifier does not depend on the database: reuse the SQLite template's trained cache
    # (keyed by the scope's fingerprint, so a scope read differently from Postgres retrains).
    for cached in sample_template.glob("classifier-*.npz"):
        shutil.copy2(cached, home / cached.name)
    app.graph_deps()
    close_app(app)
    return SampleTemplate(dbname, home)


@dataclass
class PgDeployment:
    """One deployment's state: a Postgres database and a data dir; start apps on it."""

    url: str
    home: Path
    embedder: object
    apps: list

    def start(self, **overrides):  # type: ignore[no-untyped-def]
        """A new Deskhand process on this database and data dir (like a restart)."""
        from bot.app import Deskhand
        from bot.config import Config

        app = Deskhand(
            Config(home=str(self.home), database_url=self.url, **overrides), embedder=self.embedder
        )
        self.apps.append(app)
        assert app.engine.dialect.name == "postgresql"  # never a silent SQLite fallback
        return app


@pytest.fixture
def pg_deployment(
    postgres_server, pg_sample_template, tmp_path, embedder
) -> Iterator[PgDeployment]:
    """A fresh sample-loaded deployment per test: database cloned from the template, home copied."""
    name = postgres_server.create_database("app", template=pg_sample_template.dbname)
    home = tmp_path / "home"
    shutil.copytree(pg_sample_template.home, home)
    deployment = PgDeployment(postgres_server.url(name), home, embedder, [])
    yield deployment
    for app in deployment.apps:
        close_app(app)
    postgres_server.drop_database(name)
