"""The Muntada server: the OpenRosa API for ODK Collect, the JSON API, and the command line."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from server import db, errors, private, request_guard, settings
from server.storage import BlobStore


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; `config` overrides the settings read from the environment (tests use it)."""
    app = Flask(__name__)
    app.config.update(settings.load(overrides=config))
    logging.basicConfig(level=app.config["LOG_LEVEL"])
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if app.config["TRUST_PROXY"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)
    private.folder(app.config["DATA_DIR"])  # the database, submissions, exports, the key
    app.extensions["blobs"] = BlobStore(f"{app.config['DATA_DIR']}/blobs")

    db.init_app(app)
    errors.init_app(app)
    request_guard.init_app(app)

    from server import api, openrosa, pages

    openrosa.init_app(app)
    api.init_app(app)
    pages.init_app(app)
    return app
