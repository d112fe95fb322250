"""`/api/v1/app-users`: the officers' phones, their tokens and their settings QR codes."""

from __future__ import annotations

from flask import Response, request

from server.database import per_request
from server.database.queries import accounts as account_queries
from server.services import collect_settings
from server.services.accounts import active_app_user, create_app_user, revoke_app_user
from server.surfaces.api import bp, load_json
from server.surfaces.api.schemas import AppUserCreatedSchema, AppUserCreateSchema, AppUserSchema


@bp.get("/app-users")
def list_app_users():
    return AppUserSchema(many=True).dump(account_queries.list_app_users(per_request.session()))


@bp.post("/app-users")
def create():
    data = load_json(AppUserCreateSchema())
    session = per_request.session()
    app_user = create_app_user(session, data["name"], form_ids=data["forms"],
                               password=data["password"])
    session.commit()
    app_user.server_url = collect_settings.server_url(request.host_url, app_user.token)
    return AppUserCreatedSchema().dump(app_user), 201


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
