"""What the case tests share: the two case forms loaded, and phones tied to a forum."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.database.models import AppUser
from server.services.accounts import set_app_user_places
from tests.support.cases import FOLLOW_UP, REFERRAL


@pytest.fixture
def forms(load):
    load(REFERRAL)
    load(FOLLOW_UP)


@pytest.fixture
def placed_phone(make_phone, session):
    """placed_phone(name, forum) → the phone of a new app user tied to that forum."""
    def _make(name: str, forum: str):
        phone = make_phone(name)
        app_user = session.scalars(sa.select(AppUser).where(AppUser.name == name)).one()
        set_app_user_places(app_user, [("forum", forum)])
        session.commit()
        return phone
    return _make
