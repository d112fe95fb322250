"""Forum meetings as an officer's phone fills the programme's `forum_meeting` form: the blank form
downloaded from the server as Collect does, each meeting's instance written against that form's
root element and version, then sent as Collect sends it (multipart POST)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from xml.sax.saxutils import escape

from lxml import etree

from tests.support.instances import instance, new_id
from tests.support.phone import Phone

XFORMS = "http://www.w3.org/2002/xforms"
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
    instance_id: str = ""


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
        f"<facilitator>الرائد سامي</facilitator><attendance_note/>{attendance}"
        f"<total_women>{meeting.women}</total_women><total_men>{meeting.men}</total_men>"
        f"<total_attendance>{total}</total_attendance><attendance_summary/>"
        f"<topics>security services</topics><topics_other/>"
        f"<issue><issue_category>services</issue_category>"
        f"<issue_description>{escape(meeting.issue)}</issue_description>"
        f"<issue_priority>high</issue_priority><action_agreed>مخاطبة البلدية</action_agreed>"
        f"<responsible>المجلس المحلي</responsible><due_date>{meeting.day}</due_date></issue>"
        f"<issue_count>1</issue_count><referrals>0</referrals>"
        f"<photo_1/><photo_2/><photo_3/><notes/>")
    return instance(form.form_id, form.version, body, instance_id=meeting.instance_id,
                    root=form.root, namespace=form.namespace)


def send(phone: Phone, form: BlankForm, meeting: Meeting) -> str:
    """Send one meeting as Collect does; its instanceID once the server has taken it."""
    instance_id = meeting.instance_id or new_id()
    reply = phone.submit(meeting_xml(form, replace(meeting, instance_id=instance_id)))
    assert reply.status == 201, reply.body
    return instance_id
