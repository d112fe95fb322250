"""The OpenRosa API that ODK Collect speaks, in one place: one module per resource, and here the
rules every resource shares: who the phone is, the X-OpenRosa-Version header on the way in, the
standard headers on the way out, and every problem under /collect as an OpenRosa XML answer
(`render_problem`, which the factory registers for every address under /collect, so an
unknown one is XML too).

The blueprint is mounted twice: `/collect/key/<token>` for app users' tokens (what the QR code
carries) and `/collect` for a user name and password over Digest or Basic.
"""

from __future__ import annotations

from email.utils import formatdate

from flask import Blueprint, Flask, Response, g, request
from flask.typing import ResponseReturnValue

from server.database import per_request
from server.kernel import problems
from server.kernel.problems import Problem
from server.surfaces import http_auth
from server.surfaces.openrosa import xml as openrosa_xml

bp = Blueprint("collect", __name__)
# a submission writes only around its writes (`server.services.receiving`)
per_request.reads_first(bp)
TOKEN_BLUEPRINT = "collect_key"
PROBLEMS_UNDER = "/collect"  # both mounts, and any address under them no route matches
OPENROSA_VERSION = "1.0"
XML_MIMETYPE = "text/xml; charset=utf-8"

# Collect sends the header on every request; browsers and plain downloads do not.
_NEEDS_OPENROSA_HEADER = {"form_list", "manifest", "submission", "submission_preflight"}


def init_app(app: Flask) -> None:
    from server.surfaces.openrosa import (
        form_download,  # noqa: F401
        form_list,  # noqa: F401
        manifest,  # noqa: F401
        submission,  # noqa: F401
    )

    app.register_blueprint(bp, url_prefix="/collect/key/<token>", name=TOKEN_BLUEPRINT)
    app.register_blueprint(bp, url_prefix="/collect")


@bp.url_value_preprocessor
def _take_token(_endpoint: str | None, values: dict | None) -> None:
    g.phone_token = values.pop("token", None) if values else None


@bp.url_defaults
def _give_token(endpoint: str, values: dict) -> None:
    if endpoint.startswith(TOKEN_BLUEPRINT + ".") and g.get("phone_token"):
        values.setdefault("token", g.phone_token)


@bp.before_request
def _identify_phone() -> None:
    endpoint = (request.endpoint or "").rsplit(".", 1)[-1]
    if g.phone_token is not None:
        # a submission checks its token again when it writes (`server.services.receiving`)
        g.app_user = http_auth.phone_by_token(
            g.phone_token, checked_later=endpoint == "submission" and request.method == "POST")
    else:
        g.app_user = http_auth.phone_by_password()
    # End the lookup's transaction before the body streams in: a phone uploading slowly over
    # 2G must not hold a database transaction (nor a snapshot) open meanwhile.
    per_request.end_request_read()
    if endpoint in _NEEDS_OPENROSA_HEADER and "X-OpenRosa-Version" not in request.headers:
        raise Problem(problems.OPENROSA_VERSION_MISSING)


def add_openrosa_headers(response: ResponseReturnValue) -> ResponseReturnValue:
    response.headers["X-OpenRosa-Version"] = OPENROSA_VERSION
    response.headers.setdefault("Date", formatdate(usegmt=True))
    return response


bp.after_request(add_openrosa_headers)


def render_problem(problem: Problem) -> Response:
    """A problem as Collect shows it: the message of an OpenRosa response, with its headers."""
    response = Response(openrosa_xml.openrosa_response(problem.message, nature="error"),
                        status=problem.status, content_type=XML_MIMETYPE)
    return add_openrosa_headers(response)


def form_for_phone(xml_form_id: str):
    """A form this phone may download: open or closing (phones that hold it may refresh it)."""
    from server.database import per_request
    from server.database.queries import forms as form_queries

    forms = form_queries.forms_for_phone(per_request.session(), g.app_user,
                                         states=("open", "closing"), xml_form_id=xml_form_id)
    if not forms:
        raise Problem(problems.FORM_NOT_FOUND, form_id=xml_form_id)
    return forms[0]
