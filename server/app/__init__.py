"""The app factory: settings, the data folder, the database, what is app-wide (the request guard,
problems, people's sessions, languages), then each surface (OpenRosa, the JSON API, the pages)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from server.app import errors, request_guard, web_sessions
from server.database import per_request
from server.kernel import private, settings
from server.kernel.storage import BlobStore
from server.services.exports import jobs

PAGES = Path(__file__).resolve().parents[1] / "surfaces" / "pages"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; `config` overrides the settings read from the environment (tests use it)."""
    # The pages' templates and static files live with the pages; their URL stays /static.
    app = Flask("server", template_folder=str(PAGES / "templates"),
                static_folder=str(PAGES / "static"), static_url_path="/static")
    app.config.update(settings.load(overrides=config))
    logging.basicConfig(level=app.config["LOG_LEVEL"])
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if app.config["TRUST_PROXY"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)
    private.folder(app.config["DATA_DIR"])  # the database, submissions, exports, the key
    app.extensions["blobs"] = BlobStore(f"{app.config['DATA_DIR']}/blobs")

    per_request.init_app(app)
    # what export jobs need, for the pages and the API alike
    app.extensions["export_jobs"] = jobs.Workshop(
        per_request.of(app), app.config["DATA_DIR"], app.config["SECRET_KEY"],
        app.extensions["blobs"])
    errors.init_app(app)
    request_guard.init_app(app)

    from server.surfaces import api, openrosa, pages, peers

    # Phones, scripts and field offices' servers send no cookies: no CSRF token for them.
    web_sessions.init_app(app, cookieless=(openrosa.bp, api.bp, peers.bp))
    openrosa.init_app(app)
    api.init_app(app)
    peers.init_app(app)
    pages.init_app(app)
    # Each surface renders its own problems: phones get OpenRosa XML, scripts JSON, and people
    # (the default, for any address no other surface claims) a page.
    errors.register_renderer(app, openrosa.PROBLEMS_UNDER, openrosa.render_problem)
    errors.register_renderer(app, api.PROBLEMS_UNDER, api.render_problem)
    errors.register_renderer(app, peers.PROBLEMS_UNDER, peers.render_problem)
    errors.register_renderer(app, None, pages.render_problem)
    return app
