"""Key holders and their keys, made cheaply: the Argon2id cost of tests only."""

from __future__ import annotations

from server.services import keys
from sync.keys import Argon2idCost

PASSPHRASE = "olive grove at the river bend 1987"
CHEAP = Argon2idCost(time_cost=1, memory_kib=8 * 1024, parallelism=1)  # tests only


def make_key(session, make_user, name: str = "referrals-2026", *, holder: str = "nadia"):
    """A key made by the key holder `holder` (a supervisor made for it), committed."""
    user = make_user(holder, "supervisor")
    keys.set_key_holder(session, user, True)
    key = keys.create_key(session, name, PASSPHRASE, holder=user, hint="the grove", cost=CHEAP)
    session.commit()
    return key
