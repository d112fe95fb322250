"""A programme's year of data, generated from a seed as phones would send it: forum meetings
with their attendance and issues, trainings with participants and test scores, referrals that
open cases and follow-ups that close some. Each generated item keeps what it said, so tests
count the indicators again by hand, independently of the SQL that computes them."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from tests.support.cases import entity
from tests.support.instances import instance

PLACES = (("anbar", "ramadi", "anb_ramadi_01"), ("anbar", "ramadi", "anb_ramadi_02"),
          ("anbar", "fallujah", "anb_fallujah_01"), ("nineveh", "mosul", "nin_qayyarah_01"),
          ("baghdad", "baghdad_karkh", "bgd_karkh_01"))
GROUPS = ("police", "idp", "host", "returnee", "civil_society", "judiciary", "local_authority")
TOPICS = ("security", "services", "disputes", "documentation", "gbv_family")
PRIORITIES = ("high", "medium", "low")
CATEGORIES = ("theft", "gbv", "threat", "property_dispute", "domestic_violence")
AGENCIES = ("police_station", "family_protection", "court", "ngo")
ROLES = ("police_officer", "community_member", "civil_society")
EVENTS = ("training", "awareness_campaign", "workshop")


@dataclass
class Meeting:
    place: tuple[str, str, str]
    day: date
    attendance: dict[str, tuple[int, int]]  # group -> (women, men)
    issues: list[tuple[str, str, bool, date]]  # category, priority, action agreed?, due
    instance_id: str = field(default_factory=lambda: f"uuid:{uuid.uuid4()}")


@dataclass
class Training:
    place: tuple[str, str, str]
    day: date
    event: str
    participants: list[tuple[str, str, float, float]]  # sex, role, pre, post
    instance_id: str = field(default_factory=lambda: f"uuid:{uuid.uuid4()}")


@dataclass
class Referral:
    place: tuple[str, str, str]
    day: date  # the incident's day in Iraq
    hour: int  # its hour there: late ones are the next day in UTC... or the previous
    category: str
    agency: str
    closed_on: date | None  # the first follow-up that closed it
    case_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    instance_id: str = field(default_factory=lambda: f"uuid:{uuid.uuid4()}")


def year_of_data(seed: int = 2026, *, meetings: int = 60, trainings: int = 12,
                 referrals: int = 40) -> tuple[list[Meeting], list[Training], list[Referral]]:
    rng = random.Random(seed)

    def day() -> date:  # mostly 2026, some in the years around it
        year = rng.choice((2025, 2026, 2026, 2026, 2026, 2027))
        return date(year, 1, 1) + timedelta(days=rng.randrange(365))

    made_meetings = [Meeting(
        rng.choice(PLACES), day(),
        {g: (rng.randrange(6), rng.randrange(6)) for g in GROUPS},
        [(rng.choice(TOPICS), rng.choice(PRIORITIES), rng.random() < 0.8,
          date(2026, 1, 1) + timedelta(days=rng.randrange(730)))
         for _ in range(rng.randrange(4))]) for _ in range(meetings)]
    made_trainings = [Training(
        rng.choice(PLACES), day(), rng.choice(EVENTS),
        [(rng.choice(("female", "male")), rng.choice(ROLES), float(rng.randrange(20, 70)),
          rng.randrange(40, 100) + 0.5) for _ in range(rng.randrange(1, 6))])
        for _ in range(trainings)]
    made_referrals = []
    for _ in range(referrals):
        opened = day()
        closed = opened + timedelta(days=rng.randrange(1, 60)) if rng.random() < 0.5 else None
        made_referrals.append(Referral(rng.choice(PLACES), opened, rng.choice((1, 10, 23)),
                                       rng.choice(CATEGORIES), rng.choice(AGENCIES), closed))
    return made_meetings, made_trainings, made_referrals


def meeting_xml(meeting: Meeting, version: str = "2026120201") -> bytes:
    governorate, district, forum = meeting.place
    groups = "".join(f"<attendance_{g}><{g}_women>{w}</{g}_women><{g}_men>{m}</{g}_men>"
                     f"</attendance_{g}>" for g, (w, m) in meeting.attendance.items())
    issues = "".join(
        f"<issue><issue_category>{category}</issue_category><issue_description>x"
        f"</issue_description><issue_priority>{priority}</issue_priority>"
        f"<action_agreed>{'Call the council' if agreed else ''}</action_agreed>"
        f"<responsible>Council</responsible><due_date>{due.isoformat()}</due_date></issue>"
        for category, priority, agreed, due in meeting.issues)
    body = (f"<governorate>{governorate}</governorate><district>{district}</district>"
            f"<forum>{forum}</forum><meeting_date>{meeting.day.isoformat()}</meeting_date>"
            f"<facilitator>Officer</facilitator>{groups}<topics>security</topics>{issues}"
            f"<referrals>0</referrals><notes/>")
    return instance("forum_meeting", version, body, instance_id=meeting.instance_id)


def training_xml(training: Training, version: str = "2026120201") -> bytes:
    governorate, district, forum = training.place
    people = "".join(
        f"<participant><participant_name>P</participant_name><participant_sex>{sex}"
        f"</participant_sex><participant_age_group>age_25_39</participant_age_group>"
        f"<participant_role>{role}</participant_role><pre_test_score>{pre}</pre_test_score>"
        f"<post_test_score>{post}</post_test_score></participant>"
        for sex, role, pre, post in training.participants)
    body = (f"<event_type>{training.event}</event_type><title>T</title>"
            f"<start_date>{training.day.isoformat()}</start_date>"
            f"<governorate>{governorate}</governorate><district>{district}</district>"
            f"<forum>{forum}</forum>{people}")
    return instance("training_attendance", version, body, instance_id=training.instance_id)


def referral_xml(referral: Referral, version: str = "2026120301") -> bytes:
    governorate, district, forum = referral.place
    body = (f"<reference>INC</reference><incident_datetime>{referral.day.isoformat()}T"
            f"{referral.hour:02d}:30:00.000+03:00</incident_datetime>"
            f"<governorate>{governorate}</governorate><district>{district}</district>"
            f"<forum>{forum}</forum><category>{referral.category}</category>"
            f"<consent>yes</consent><person><person_name>N</person_name>"
            f"<person_sex>female</person_sex></person><agency>{referral.agency}</agency>"
            f"<urgency>routine</urgency><status>open</status>")
    return instance("incident_referral", version, body, instance_id=referral.instance_id
                    ).replace(b"</meta>", entity(referral.case_id, create="1",
                                                 label="INC").encode() + b"</meta>")


def closing_xml(referral: Referral, version: str = "2026120301") -> bytes:
    governorate, district, forum = referral.place
    body = (f"<governorate>{governorate}</governorate><district>{district}</district>"
            f"<forum>{forum}</forum><case>{referral.case_id}</case>"
            f"<action_date>{referral.closed_on.isoformat()}</action_date>"
            f"<agency_contacted>police_station</agency_contacted><outcome>Done</outcome>"
            f"<status>closed</status>")
    return instance("referral_follow_up", version, body).replace(
        b"</meta>", entity(referral.case_id, update="1", base_version="1", trunk_version="1",
                           branch_id=str(uuid.uuid4()), label=None).encode() + b"</meta>")
