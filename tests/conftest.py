"""Fixtures shared by every test: the app on SQLite and, when TEST_DATABASE_URL is set, on
PostgreSQL too; a `phone` that speaks like ODK Collect; an `admin` of the JSON API."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from server.app import create_app
from server.database import make_engine, migrate, per_request
from server.database.models import Base
from server.services import api_tokens
from server.services.accounts import create_app_user, create_user
from server.services.form_loading import load_form
from tests.support import web
from tests.support.compiled import compile_once
from tests.support.phone import Phone, flask_transport

SHARED = Path(__file__).resolve().parents[2] / "shared"
ADMIN_PASSWORD = "correct horse battery staple"


def pytest_generate_tests(metafunc):
    if "database" in metafunc.fixturenames:
        # a module about one database's own mechanism names it: `DATABASES = ["sqlite"]`
        kinds = getattr(metafunc.module, "DATABASES", ["sqlite", "postgresql"])
        metafunc.parametrize("database", kinds, indirect=True)


@pytest.fixture(scope="session", autouse=True)
def forms_compiled_once():
    """Loading a form compiles it once per session whatever the test (tests/support/compiled)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("server.services.form_loading.compile_form", compile_once)
        yield


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for each test: migrating once is enough."""
    path = tmp_path_factory.mktemp("template") / "muntada.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A migrated PostgreSQL database of this test run's own, dropped at the end, so that two
    runs on one server (a developer's and CI's) never see each other's rows."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("PostgreSQL not available: set TEST_DATABASE_URL (CI sets it)")
    server_url = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"muntada_test_{os.getpid()}"
    admin = make_engine(server_url.render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    own = server_url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(own)
    migrate.upgrade(engine)
    engine.dispose()
    yield own
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def database(request, tmp_path) -> str:
    """The URL of an empty, migrated database of the kind the test is parametrised with."""
    if request.param == "sqlite":
        path = tmp_path / "muntada.sqlite"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    engine = make_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        # the forms' and lists' own tables first, then every row of ours
        for (name,) in connection.execute(text(
                "SELECT table_name FROM projection_tables UNION "
                "SELECT table_name FROM entity_lists WHERE table_name IS NOT NULL")):
            connection.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def app(database, tmp_path):
    app = create_app({
        "TESTING": True,
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database,
        "SECRET_KEY": "test-secret",
        "VALIDATE_FORMS": False,  # ODK Validate has its own tests; it costs seconds per form
        "PUBLIC_URL": "http://muntada.test:5000",
    })
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
def programme(load):
    """The programme's three forms and their media, loaded."""
    from server.services.programme import PROGRAMME_FORMS

    return {form.form_id: load(form.source.read_bytes(),
                               {m.name: m.read_bytes() for m in form.media})
            for form in PROGRAMME_FORMS}


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
