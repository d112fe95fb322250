"""`/app-users/<name>`: the settings QR code an officer scans to set up ODK Collect."""

from __future__ import annotations

import base64

from flask import render_template, request

from server.database import per_request
from server.services import collect_settings
from server.services.accounts import active_app_user
from server.surfaces.pages import bp, require


@bp.get("/app-users/<name>")
@require("app_users.manage")
def app_user_qr(name: str):
    app_user = active_app_user(per_request.session(), name)
    url = collect_settings.server_url(request.host_url, app_user.token)
    png = collect_settings.qr_png(collect_settings.payload_for(request.host_url, app_user.token))
    forms = None if app_user.all_forms else [f.xml_form_id for f in app_user.forms]
    response = render_template("app_user_qr.html", app_user=app_user, server_url=url,
                               forms=forms, qr=base64.b64encode(png).decode("ascii"))
    return response, 200, {"Cache-Control": "no-store"}  # the page carries the phone's token
