"""What an arrival means, row by row of the issue's table."""

from __future__ import annotations

import pytest

from sync.arrival import Held, Outcome, decide
from sync.instance import InstanceIdentity


def arrival(sha="a", deprecated=None) -> InstanceIdentity:
    return InstanceIdentity("f", "1", "uuid:new", deprecated, "data", sha, True)


CURRENT = Held("a", is_current=True, deleted=False)


@pytest.mark.parametrize("identity, same, old, outcome", [
    (arrival(), None, None, Outcome.NEW),
    (arrival(), CURRENT, None, Outcome.RETRY),
    (arrival(sha="b"), CURRENT, None, Outcome.CONFLICT),
    (arrival(deprecated="uuid:old"), None, CURRENT, Outcome.EDIT),
    (arrival(deprecated="uuid:old"), None, None, Outcome.EDIT_UNKNOWN),
    (arrival(deprecated="uuid:old"), None, Held("x", False, False), Outcome.EDIT_STALE),
    (arrival(), Held("a", True, deleted=True), None, Outcome.DELETED),
    (arrival(deprecated="uuid:old"), None, Held("x", True, deleted=True), Outcome.DELETED),
    # an edit sent twice is a retry of the edit
    (arrival(deprecated="uuid:old"), CURRENT, Held("x", False, False), Outcome.RETRY),
])
def test_every_arrival(identity, same, old, outcome):
    assert decide(identity, same, old) is outcome
