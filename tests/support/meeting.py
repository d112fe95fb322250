"""A small forum-meeting form with everything normalisation must handle, and instances of it."""

from __future__ import annotations

from tests.support.instances import instance
from tests.support.xlsforms import xlsform

FORM_ID = "meeting"


def meeting_form(version: str = "1", extra_rows: str = "") -> bytes:
    return xlsform(f"""
        | | type | name | label |
        | | date | meeting_date | Meeting date |
        | | geopoint | location | Location |
        | | begin_group | attendance | Attendance |
        | | integer | women | Women |
        | | integer | men | Men |
        | | end_group | | |
        | | decimal | duration | Hours |
        | | select_multiple topic | topics | Topics |
        | | begin_repeat | issue | Issue |
        | | text | description | Description |
        | | begin_repeat | action | Action |
        | | date | due | Due |
        | | end_repeat | | |
        | | end_repeat | | |
        | | image | photo | Photo |
        | | image | photo_2 | Second photo |
        {extra_rows}
    """, form_id=FORM_ID, version=version, choices="""
        | | list_name | name | label |
        | | topic | security | Security |
        | | topic | services | Services |
        | | topic | women | Women |
    """)


def meeting(*, version: str = "1", women: str = "3", men: str = "5", photos: tuple[str, ...] = (),
            issues: tuple[tuple[str, tuple[str, ...]], ...] = (("Street lights", ("2026-12-01",)),),
            topics: str = "security women", extra: str = "", **options) -> bytes:
    issue_xml = "".join(
        f"<issue><description>{text}</description>"
        + "".join(f"<action><due>{due}</due></action>" for due in dues) + "</issue>"
        for text, dues in issues)
    photo_xml = "".join(f"<{name}>{file}</{name}>"
                        for name, file in zip(("photo", "photo_2"), photos, strict=False))
    body = (f"<meeting_date>2026-11-20</meeting_date>"
            f"<location>33.3152 44.3661 34.0 5.0</location>"
            f"<attendance><women>{women}</women><men>{men}</men></attendance>"
            f"<duration>1.5</duration><topics>{topics}</topics>{issue_xml}{photo_xml}{extra}")
    return instance(FORM_ID, version, body, **options)
