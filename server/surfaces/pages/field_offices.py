"""`/field-offices`: headquarters' page of the field offices it syncs with (their places, whether
each has joined, last contact, what waits on each side, what was refused, open review conflicts,
the last error) and the form that registers one, whose token is shown once on the page that
answers it. On a field office's own server the page shows its link to headquarters instead."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, g, render_template, request

from server.database import per_request
from server.services.access import SCOPE_KINDS
from server.services.field_office import registry, status
from server.surfaces.pages import bp, require


@bp.get("/field-offices")
@require("field_offices.manage")
def field_offices():
    return _render()


@bp.post("/field-offices")
@require("field_offices.manage")
def register_field_office():
    session = per_request.session()
    places = [(kind, value) for kind in SCOPE_KINDS
              for value in request.form.get(kind, "").replace(",", "\n").splitlines()]
    peer, token = registry.register(session, request.form.get("name", ""), places,
                                    user=g.user, address=request.remote_addr)
    session.commit()
    # the token exists only in this answer: headquarters keeps its SHA-256
    join = f"muntada field-office join {current_app.config['PUBLIC_URL']} {token}"
    return _render(registered=peer.name, join=join)


def _render(*, registered: str | None = None, join: str | None = None):
    session = per_request.session()
    links = status.links(session)
    offices = [link for link in links if link.peer.role == "office"]
    headquarters = next((link for link in links if link.peer.role == "headquarters"), None)
    return render_template(
        "field_offices.html", offices=offices, headquarters=headquarters,
        conflicts={link.peer.id: status.conflicted(session, link) for link in links},
        # what changed here since the other side last called waits too, not numbered yet
        waiting_here={link.peer.id: link.waiting_here
                      for link in links},
        now=datetime.now(UTC), registered=registered, join=join,
        public_url=current_app.config["PUBLIC_URL"])
