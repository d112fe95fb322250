"""The rights an export file was written with, and which of them its owner has since lost.

A file is kept for days after it is written; what it holds was decided by the owner's role,
places and personal-data permission at that moment. Before it is handed over it is compared with
the owner's rights now: a file made with rights they no longer have is not theirs to take any
more (and is deleted); one made with fewer rights than they have now is still fine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from server.database.models import User
from server.services import access

# What `lost` names, in the order a reader is told.
DISABLED, DOWNLOADS, PLACES, PERSONAL_DATA = "disabled", "downloads", "places", "personal_data"


@dataclass(frozen=True)
class Rights:
    role: str
    downloads: bool  # the role lets its holder download data
    everything: bool  # every place (no assignment limits it)
    governorates: frozenset[str] = frozenset()
    forums: frozenset[str] = frozenset()
    personal_data: bool = False  # the file shows personal answers unmasked

    def dumps(self) -> str:
        return json.dumps({
            "role": self.role, "downloads": self.downloads, "everything": self.everything,
            "governorates": sorted(self.governorates), "forums": sorted(self.forums),
            "personal_data": self.personal_data}, sort_keys=True)

    @classmethod
    def loads(cls, text: str) -> Rights:
        data = json.loads(text)
        return cls(role=data["role"], downloads=data["downloads"],
                   everything=data["everything"], governorates=frozenset(data["governorates"]),
                   forums=frozenset(data["forums"]), personal_data=data["personal_data"])


def of(user: User, *, personal_used: bool = True) -> Rights:
    """`user`'s rights now; `personal_used`: whether the file shows any personal answer (a
    form without personal fields uses no such permission, whoever downloads it)."""
    scope = access.scope_of(user)
    return Rights(role=user.role, downloads=access.can(user, "data.download"),
                  everything=scope.everything, governorates=scope.governorates,
                  forums=scope.forums,
                  personal_data=personal_used and access.sees_personal_data(user))


def lost(made_with: str | None, user: User) -> list[str]:
    """The rights a file was made with (`ExportJob.rights`) that `user` no longer has; a file
    without a record (written before rights were recorded) counts as made with all of them."""
    if user.disabled_at is not None:
        return [DISABLED]
    now = of(user)
    if not made_with:
        return [r for r, held in ((DOWNLOADS, now.downloads), (PLACES, now.everything),
                                  (PERSONAL_DATA, now.personal_data)) if not held]
    then = Rights.loads(made_with)
    gone = []
    if then.downloads and not now.downloads:
        gone.append(DOWNLOADS)
    # every row the file could hold must still be within the owner's places
    if not now.everything and (then.everything or not (
            then.governorates <= now.governorates and then.forums <= now.forums)):
        gone.append(PLACES)
    if then.personal_data and not now.personal_data:
        gone.append(PERSONAL_DATA)
    return gone
