"""Forum meetings as an officer's phone fills the programme's `forum_meeting` form: the blank form
downloaded from the server as Collect does, each meeting's instance written against that form's
root element and version, then sent as Collect sends it (multipart POST)."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from xml.sax.saxutils import escape

from lxml import etree
from PIL import Image, ImageDraw

from tests.support.instances import instance, new_id
from tests.support.phone import Phone

XFORMS = "http://www.w3.org/2002/xforms"
PHOTO_NAME = "1763280000123.jpg"  # Collect names a photo by the time it was taken
ATTENDANCE_GROUPS = ("police", "idp", "host", "returnee", "civil_society", "judiciary",
                     "local_authority")


@dataclass(frozen=True)
class Meeting:
    """What an officer enters; `forum` is a name from forums.csv, with its governorate and
    district."""

    governorate: str
    district: str
    forum: str
    day: str  # ISO date
    women: int = 4
    men: int = 6
    issue: str = "إنارة الشارع معطلة قرب المدرسة"
    facilitator: str = "الرائد سامي"  # a personal field: masked without the permission
    photo: bytes | None = None  # photo_1, a JPEG as the phone's camera saved it
    instance_id: str = ""
    deprecated_id: str = ""  # set on an edit: the instanceID of the version it replaces


@dataclass(frozen=True)
class BlankForm:
    root: str
    namespace: str | None
    form_id: str
    version: str


def blank_form(phone: Phone, form_id: str = "forum_meeting") -> BlankForm:
    """The form as the phone downloaded it: the instance root it must write and its version."""
    (entry,) = [e for e in phone.form_list() if e["formID"] == form_id]
    model = etree.fromstring(phone.download_form(entry)).find(f".//{{{XFORMS}}}model")
    root = model.find(f"{{{XFORMS}}}instance")[0]
    name = etree.QName(root)
    return BlankForm(name.localname, name.namespace, root.get("id"), root.get("version"))


def meeting_xml(form: BlankForm, meeting: Meeting) -> bytes:
    """The instance Collect writes for `meeting`: every attendance group, one issue raised."""
    attendance = "".join(
        f"<attendance_{group}><{group}_women>{meeting.women if group == 'police' else 0}"
        f"</{group}_women><{group}_men>{meeting.men if group == 'police' else 0}</{group}_men>"
        f"</attendance_{group}>" for group in ATTENDANCE_GROUPS)
    total = meeting.women + meeting.men
    body = (
        f"<start>{meeting.day}T09:00:00.000+03:00</start>"
        f"<end>{meeting.day}T11:30:00.000+03:00</end><today>{meeting.day}</today>"
        f"<deviceid>collect:muntada-browser-tests</deviceid>"
        f"<governorate>{meeting.governorate}</governorate><district>{meeting.district}</district>"
        f"<forum>{meeting.forum}</forum><forum_name/>"
        f"<meeting_date>{meeting.day}</meeting_date><location>33.3152 44.3661 34.0 5.0</location>"
        f"<facilitator>{escape(meeting.facilitator)}</facilitator><attendance_note/>{attendance}"
        f"<total_women>{meeting.women}</total_women><total_men>{meeting.men}</total_men>"
        f"<total_attendance>{total}</total_attendance><attendance_summary/>"
        f"<topics>security services</topics><topics_other/>"
        f"<issue><issue_category>services</issue_category>"
        f"<issue_description>{escape(meeting.issue)}</issue_description>"
        f"<issue_priority>high</issue_priority><action_agreed>مخاطبة البلدية</action_agreed>"
        f"<responsible>المجلس المحلي</responsible><due_date>{meeting.day}</due_date></issue>"
        f"<issue_count>1</issue_count><referrals>0</referrals>"
        f"<photo_1>{PHOTO_NAME if meeting.photo else ''}</photo_1><photo_2/><photo_3/><notes/>")
    return instance(form.form_id, form.version, body, instance_id=meeting.instance_id,
                    deprecated_id=meeting.deprecated_id or None, root=form.root,
                    namespace=form.namespace)


def send(phone: Phone, form: BlankForm, meeting: Meeting) -> str:
    """Send one meeting (or an edit of one) as Collect does, with its photo; its instanceID once
    the server has taken it."""
    instance_id = meeting.instance_id or new_id()
    reply = phone.submit(meeting_xml(form, replace(meeting, instance_id=instance_id)),
                         {PHOTO_NAME: meeting.photo} if meeting.photo else None)
    assert reply.status == 201, reply.body
    return instance_id


def photo_jpeg(width: int = 1280, height: int = 960) -> bytes:
    """A photo as a phone's camera saves it (max-pixels=1280): a meeting room drawn in a few
    shapes, so a thumbnail and the full picture can be told apart by size, not by content."""
    image = Image.new("RGB", (width, height), (222, 214, 196))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, height * 0.55), fill=(236, 231, 218))  # the wall
    draw.rectangle((width * 0.08, height * 0.1, width * 0.34, height * 0.42),
                   fill=(150, 190, 220), outline=(90, 90, 90), width=8)  # a window
    draw.rectangle((width * 0.2, height * 0.62, width * 0.8, height * 0.7),
                   fill=(120, 84, 52))  # the table
    for n in range(6):  # the people around it
        x = width * (0.24 + n * 0.105)
        draw.ellipse((x, height * 0.45, x + width * 0.06, height * 0.53),
                     fill=(170, 130, 100))
        draw.rectangle((x - width * 0.01, height * 0.53, x + width * 0.07, height * 0.64),
                       fill=((11, 110, 79), (30, 60, 120), (120, 40, 50))[n % 3])
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()
