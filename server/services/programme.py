"""Where the programme's forms and their media files are, in the installed `forms` package
(`my_returned_forms` also has `feedback.csv`, which the server makes for each phone)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import forms

XLSFORMS = Path(forms.__file__).parent / "xlsforms"


@dataclass(frozen=True)
class ProgrammeForm:
    form_id: str
    source: Path
    media: tuple[Path, ...]


PROGRAMME_FORMS = tuple(
    ProgrammeForm(form_id, XLSFORMS / f"{form_id}.xlsx", (XLSFORMS / "media" / "forums.csv",))
    # the referral before its follow-up: loading it registers the case list the follow-up updates
    for form_id in ("forum_meeting", "incident_referral", "referral_follow_up",
                    "training_attendance", "my_returned_forms")
)


def forum_governorates() -> dict[str, str]:
    """Each forum's governorate, as the programme's forum list says."""
    import csv

    with open(XLSFORMS / "media" / "forums.csv", encoding="utf-8", newline="") as file:
        return {row["name"]: row["governorate"] for row in csv.DictReader(file)}
