"""`/api/v1/app-users`: the officers' phones, their tokens and their settings QR codes."""

from __future__ import annotations

from flask import Response, request

from server.database import per_request
from server.database.queries import accounts as account_queries
from server.services import collect_settings
from server.services.accounts import (
    active_app_user,
    create_app_user,
    revoke_app_user,
    set_app_user_places,
)
from server.surfaces.api import bp, load_json
from server.surfaces.api.schemas import (
    AppUserCreatedSchema,
    AppUserCreateSchema,
    AppUserPlacesSchema,
    AppUserSchema,
)


@bp.get("/app-users")
def list_app_users():
    return AppUserSchema(many=True).dump(account_queries.list_app_users(per_request.session()))


@bp.post("/app-users")
def create():
    data = load_json(AppUserCreateSchema())
    session = per_request.session()
    app_user = create_app_user(session, data["name"], form_ids=data["forms"],
                               password=data["password"],
                               places=_places(data["governorates"], data["forums"]))
    session.commit()
    app_user.server_url = collect_settings.server_url(request.host_url, app_user.token)
    return AppUserCreatedSchema().dump(app_user), 201


@bp.put("/app-users/<name>/places")
def set_places(name: str):
    """Replace the governorates and forums whose cases the phone receives and may update."""
    data = load_json(AppUserPlacesSchema())
    session = per_request.session()
    app_user = active_app_user(session, name)
    set_app_user_places(app_user, _places(data["governorates"], data["forums"]))
    session.commit()
    return AppUserSchema().dump(app_user)


def _places(governorates, forums) -> list[tuple[str, str]]:
    return [("governorate", g) for g in governorates] + [("forum", f) for f in forums]


@bp.delete("/app-users/<name>")
def revoke(name: str):
    session = per_request.session()
    app_user = revoke_app_user(session, name)
    session.commit()
    return AppUserSchema().dump(app_user)


@bp.get("/app-users/<name>/qr.png")
def qr_code(name: str):
    app_user = active_app_user(per_request.session(), name)
    payload = collect_settings.payload_for(request.host_url, app_user.token)
    response = Response(collect_settings.qr_png(payload), mimetype="image/png")
    response.headers["Cache-Control"] = "no-store"  # it carries the phone's credential
    return response
