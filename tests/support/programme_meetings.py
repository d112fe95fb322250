"""Forum meetings of the programme's own form, as a phone sends them, and a photo to attach."""

from __future__ import annotations

import io

from PIL import Image

from tests.support.instances import instance

VERSION = "2026120201"
FORM = "forum_meeting"


def forum_meeting(*, governorate: str = "anbar", district: str = "ramadi",
                  forum: str = "anb_ramadi_01", facilitator: str = "Ahmed Kareem",
                  meeting_date: str = "2026-11-20", women: str = "3",
                  topics: str = "security services",
                  issues: tuple[tuple[str, str, str], ...] = (
                      ("security", "Street lights broken", "high"),),
                  photos: tuple[str, ...] = (), notes: str = "",
                  location: str = "33.3152 44.3661 34.0 5.0", **options) -> bytes:
    issue_xml = "".join(
        f"<issue><issue_category>{category}</issue_category>"
        f"<issue_description>{text}</issue_description><issue_priority>{priority}"
        f"</issue_priority><action_agreed>Call the council</action_agreed>"
        f"<responsible>Local council</responsible><due_date>2026-12-01</due_date></issue>"
        for category, text, priority in issues)
    photo_xml = "".join(f"<photo_{n}>{name}</photo_{n}>" for n, name in enumerate(photos, 1))
    groups = "".join(
        f"<attendance_{g}><{g}_women>{women}</{g}_women><{g}_men>2</{g}_men></attendance_{g}>"
        for g in ("police", "idp", "host", "returnee", "civil_society", "judiciary",
                  "local_authority"))
    body = (f"<start>2026-11-20T09:00:00.000+03:00</start><end>2026-11-20T11:00:00.000+03:00</end>"
            f"<today>2026-11-20</today><deviceid>collect:abc</deviceid>"
            f"<governorate>{governorate}</governorate><district>{district}</district>"
            f"<forum>{forum}</forum><forum_name>x</forum_name>"
            f"<meeting_date>{meeting_date}</meeting_date><location>{location}</location>"
            f"<facilitator>{facilitator}</facilitator><attendance_note/>{groups}"
            f"<total_women>21</total_women><total_men>14</total_men>"
            f"<total_attendance>35</total_attendance><attendance_summary/>"
            f"<topics>{topics}</topics><topics_other/>{issue_xml}<issue_count>1</issue_count>"
            f"<referrals>2</referrals>{photo_xml}<notes>{notes}</notes>")
    return instance(FORM, VERSION, body, **options)


def jpeg(color: str = "red", size: tuple[int, int] = (800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()
