"""Fixtures shared by every test: the app on SQLite and, when TEST_DATABASE_URL is set, on
PostgreSQL too; a `phone` that speaks like ODK Collect; an `admin` of the JSON API."""

from __future__ import annotations

import base64
import itertools
import os
import shutil
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from server.app import create_app
from server.database import make_engine, migrate, per_request
from server.database.queries import forms as form_queries
from server.services import api_tokens
from server.services.accounts import create_app_user, create_user
from server.services.form_loading import LoadResult, load_form
from tests.support import app_caches, web
from tests.support.compiled import compile_once
from tests.support.phone import Phone, flask_transport

SHARED = Path(__file__).resolve().parents[2] / "shared"
ADMIN_PASSWORD = "correct horse battery staple"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`make test` runs two pytest-xdist workers with `--dist loadscope`: each module's tests go
    to one worker, in order, so its module-scoped servers are made once; and the browser tests
    all go to one, which seeds each database once and starts one Chromium."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith("tests/e2e/browser/"):
                return "tests/e2e/browser"
            return nodeid.split("::", 1)[0]

    return ByModule(config, log)


def pytest_generate_tests(metafunc):
    if "database" in metafunc.fixturenames:
        # a module about one database's own mechanism names it: `DATABASES = ["sqlite"]`
        kinds = getattr(metafunc.module, "DATABASES", ["sqlite", "postgresql"])
        metafunc.parametrize("database", kinds, indirect=True)


@pytest.fixture(scope="session", autouse=True)
def forms_compiled_once():
    """Loading a form compiles it once per session whatever the test (tests/support/compiled),
    and so do the apps' URL rules and templates (tests/support/app_caches)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("server.services.form_loading.compile_form", compile_once)
        app_caches.installed(patch)
        yield


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for each test: migrating once is enough."""
    path = tmp_path_factory.mktemp("template") / "muntada.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


class PostgresCopies:
    """Databases copied from templates of this run's (CREATE DATABASE ... TEMPLATE copies the
    files: far cheaper than emptying every table after each test), each test's its own.

    The copying and the dropping (which waits for a checkpoint) run in threads of their own, on
    TEST_DATABASE_URL's database: one copy of each template is made ahead while a test runs, and
    a test's is dropped after it while the next one runs."""

    def __init__(self, url: str):
        # statements outside any transaction, on connections checked before each use: a test
        # may end every connection of a server (tests/integration/test_database_restart.py)
        self.engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                                    isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        self.url = self.engine.url
        self._making = ThreadPoolExecutor(1, thread_name_prefix="copying")
        self._dropping = ThreadPoolExecutor(1, thread_name_prefix="dropping")
        self._ahead: dict[str, Future] = {}
        self._names = itertools.count(1)

    def execute(self, statement: str) -> None:
        with self.engine.connect() as connection:
            connection.execute(text(statement))

    def _copy(self, template: str) -> str:
        name = f"{template}_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def take(self, template_url: str) -> str:
        """The URL of a new copy of `template_url`'s database, for one test alone."""
        template = make_url(template_url).database
        made = self._ahead.pop(template, None) or self._making.submit(self._copy, template)
        name = made.result()
        self._ahead[template] = self._making.submit(self._copy, template)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        # FORCE: a connection a test left open must not stop the next test (it did not when
        # the tables were emptied instead)
        name = make_url(url).database
        self._dropping.submit(self.execute, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def forget(self, template_url: str) -> None:
        """Drop the copy made ahead of `template_url`'s, before the template itself goes."""
        made = self._ahead.pop(make_url(template_url).database, None)
        if made is not None:
            self.drop(self.url.set(database=made.result()).render_as_string())
        self._dropping.submit(lambda: None).result()  # every drop asked for so far is done

    def close(self) -> None:
        for template in list(self._ahead):
            self.forget(self.url.set(database=template).render_as_string())
        self._making.shutdown()
        self._dropping.shutdown()
        self.engine.dispose()


@pytest.fixture(scope="session")
def postgres_copies() -> PostgresCopies:
    """Skips when TEST_DATABASE_URL is unset."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("PostgreSQL not available: set TEST_DATABASE_URL (CI sets it)")
    copies = PostgresCopies(url)
    yield copies
    copies.close()


@pytest.fixture(scope="session")
def postgres_url(postgres_copies) -> str:
    """A migrated PostgreSQL database of this test run's own, dropped at the end, so that two
    runs on one server (a developer's and CI's) never see each other's rows. No test connects to
    it: each gets a copy of it (`database`)."""
    name = f"muntada_test_{os.getpid()}"
    postgres_copies.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    postgres_copies.execute(f"CREATE DATABASE {name}")
    own = postgres_copies.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(own)
    migrate.upgrade(engine)
    engine.dispose()
    yield own
    postgres_copies.forget(own)
    postgres_copies.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass(frozen=True)
class Programme:
    """A database of each kind with the programme's forms loaded once, as `load` loads them, and
    the data folder's blobs (the forms and their media) that loading stored."""

    database: str  # the SQLite file or the PostgreSQL template database's URL
    blobs: Path
    results: dict  # form id -> (version, created, warnings, media_updated) as loading gave them


PROGRAMME = pytest.StashKey[Programme]()


def load_programme(app, session) -> dict:
    """The programme's forms and their media loaded into `app`, as an administrator would."""
    from server.services.programme import PROGRAMME_FORMS

    results = {}
    for form in PROGRAMME_FORMS:
        results[form.form_id] = load_form(
            session, app.extensions["blobs"], form.source.read_bytes(),
            {m.name: m.read_bytes() for m in form.media}, validate=app.config["VALIDATE_FORMS"])
        session.commit()
    return results


def programme_template(url: str, root: Path) -> Programme:
    """The programme loaded into the database at `url` by an app of the tests' settings, its data
    folder in `root`."""
    app = create_app(app_settings(url, root / "data"))
    session = per_request.of(app).session(writing=False)
    try:
        loaded = load_programme(app, session)
        results = {form_id: (r.version.version, r.created, r.warnings, r.media_updated)
                   for form_id, r in loaded.items()}
    finally:
        session.close()
        per_request.of(app).engine.dispose()
    return Programme(url, app.extensions["blobs"].root, results)


@pytest.fixture(scope="session")
def sqlite_programme(sqlite_template, tmp_path_factory) -> Programme:
    path = tmp_path_factory.mktemp("programme") / "muntada.sqlite"
    shutil.copy(sqlite_template, path)
    made = programme_template(f"sqlite:///{path}", path.parent)
    with closing(sqlite3.connect(path)) as connection:  # all in the file, which each test copies
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return replace(made, database=str(path))


@pytest.fixture(scope="session")
def postgres_programme(postgres_copies, postgres_url, tmp_path_factory) -> Programme:
    url = postgres_copies.take(postgres_url)
    yield programme_template(url, tmp_path_factory.mktemp("programme"))
    postgres_copies.forget(url)
    postgres_copies.drop(url)


@pytest.fixture
def database(request, tmp_path) -> str:
    """The URL of a migrated database of the kind the test is parametrised with, its own copy of
    a template made once per session: empty, or with the programme's forms already loaded when
    the test uses `programme` (which then finds them there)."""
    sqlite = request.param == "sqlite"
    if "programme" in request.fixturenames:
        programme = request.getfixturevalue("sqlite_programme" if sqlite else "postgres_programme")
        request.node.stash[PROGRAMME] = programme
        template = programme.database
    else:
        template = request.getfixturevalue("sqlite_template" if sqlite else "postgres_url")
    if sqlite:
        path = tmp_path / "muntada.sqlite"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    copies = request.getfixturevalue("postgres_copies")
    url = copies.take(template)
    yield url
    copies.drop(url)


def app_settings(database: str, data_dir: Path) -> dict:
    return {
        "TESTING": True,
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": database,
        "SECRET_KEY": "test-secret",
        "VALIDATE_FORMS": False,  # ODK Validate has its own tests; it costs seconds per form
        "PUBLIC_URL": "http://muntada.test:5000",
    }


@pytest.fixture
def app(database, tmp_path):
    app = create_app(app_settings(database, tmp_path / "data"))
    yield app
    per_request.of(app).engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    """A database session for arranging and checking a test, outside any request. It never holds
    SQLite's write lock while it reads; call `session.rollback()` before reading what a request
    wrote (a SQLite read transaction sees the database as it was when it began)."""
    # No app context is held open: requests would share it (and its `g`, where the signed-in
    # user is cached) instead of getting one each, as they do in production.
    test_session = per_request.of(app).session(writing=False)
    yield test_session
    test_session.close()


@pytest.fixture
def load(app, session):
    """load(source, media={}) loads a form as an administrator would."""
    def _load(source: str | bytes, media: dict[str, bytes] | None = None, **options):
        data = source.encode("utf-8") if isinstance(source, str) else source
        options.setdefault("validate", app.config["VALIDATE_FORMS"])
        result = load_form(session, app.extensions["blobs"], data, media, **options)
        session.commit()
        return result
    return _load


@pytest.fixture
def programme(request, app, session):
    """The programme's five forms and their media, loaded: form id -> LoadResult."""
    made = request.node.stash.get(PROGRAMME, None)
    if made is None:  # asked for by getfixturevalue: `database` could not see it coming
        return load_programme(app, session)
    # The database is a copy of one the programme was loaded into by `load_programme`; the data
    # folder gets the files that loading stored, and the test what loading returned.
    assert not app.config["VALIDATE_FORMS"], "the programme's template was loaded unvalidated"
    shutil.copytree(made.blobs, app.extensions["blobs"].root, dirs_exist_ok=True)
    from server.services.programme import PROGRAMME_FORMS

    results = {}
    for form in PROGRAMME_FORMS:
        version, created, warnings, media_updated = made.results[form.form_id]
        found = form_queries.get_form(session, form.form_id)
        results[form.form_id] = LoadResult(
            form=found, version=form_queries.get_version(session, found, version),
            structure=compile_once(form.source.read_bytes()).structure, created=created,
            warnings=warnings, media_updated=list(media_updated))
    return results


@pytest.fixture
def make_phone(client, session):
    """make_phone(name, forms=()) → a Phone for a new app user with a token."""
    def _make(name: str = "officer", forms: tuple[str, ...] = (), password: str | None = None):
        app_user = create_app_user(session, name, form_ids=forms, password=password)
        session.commit()
        return Phone(flask_transport(client), f"http://localhost/collect/key/{app_user.token}")
    return _make


@pytest.fixture
def phone(make_phone) -> Phone:
    return make_phone()


class ApiClient:
    """The JSON API as an administrator's script uses it: an API token, sent over HTTPS as the
    password of Basic authentication with the user's name (as Excel and Power BI send it)."""

    def __init__(self, client, username: str, token: str):
        self.client = client
        self.username, self.token = username, token
        credentials = base64.b64encode(f"{username}:{token}".encode()).decode()
        self.headers = {"Authorization": f"Basic {credentials}"}

    def open(self, method: str, path: str, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers,
                                base_url="https://localhost", **kwargs)

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def post(self, path, **kw):
        return self.open("POST", path, **kw)

    def patch(self, path, **kw):
        return self.open("PATCH", path, **kw)

    def put(self, path, **kw):
        return self.open("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.open("DELETE", path, **kw)


def api_token(session, user, name: str = "tests") -> str:
    """A new API token of `user`'s (committed): the secret a script would be given."""
    _token, secret = api_tokens.create(session, user, name)
    session.commit()
    return secret


@pytest.fixture
def admin(client, session) -> ApiClient:
    user = create_user(session, "admin", ADMIN_PASSWORD, "administrator")
    return ApiClient(client, "admin", api_token(session, user))


@pytest.fixture
def make_user(session):
    """A web user of `role` with the test password; scopes as (kind, value) pairs."""

    def make(username: str, role: str, *, scopes=(), personal_data: bool = False,
             email: str | None = None):
        user = create_user(session, username, web.PASSWORD, role, scopes=scopes,
                           personal_data=personal_data, email=email)
        session.commit()
        return user

    return make


@pytest.fixture
def browser_for(app, make_user):
    """A signed-in browser for a new user: `browser_for("supervisor", scopes=[...])`."""
    counter = iter(range(1, 1000))

    def sign_in(role: str, *, username: str | None = None, **options) -> web.Browser:
        username = username or f"{role}{next(counter)}"
        make_user(username, role, **options)
        browser = web.Browser(app)
        response = browser.sign_in(username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return browser

    return sign_in


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    corpus = SHARED / "corpus"
    if not corpus.is_dir():
        pytest.skip("../shared/corpus is absent (a user's clone): outside forms not tested")
    return corpus
