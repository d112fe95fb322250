"""Where the programme's three forms and their media files are, in the installed `forms` package."""

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
    for form_id in ("forum_meeting", "incident_referral", "training_attendance")
)
