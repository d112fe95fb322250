"""Training attendance of the programme's own form, as a phone sends it."""

from __future__ import annotations

from xml.sax.saxutils import escape

from tests.support.instances import instance

VERSION = "2026120201"
FORM = "training_attendance"


def training_attendance(*, title: str = "Community policing basics",
                        governorate: str = "anbar", district: str = "ramadi",
                        participants: tuple[tuple[str, str, str], ...] = (
                            ("Zainab Ali", "female", "forum_member"),
                            ("Omar Hadi", "male", "police_officer")),
                        **options) -> bytes:
    """`participants`: (name, sex, role) each."""
    people = "".join(
        f"<participant><participant_name>{escape(name)}</participant_name>"
        f"<participant_sex>{sex}</participant_sex>"
        f"<participant_age_group>age_25_39</participant_age_group>"
        f"<participant_role>{role}</participant_role>"
        f"<participant_organisation>Ramadi police</participant_organisation>"
        f"<participant_phone/><pre_test_score>40</pre_test_score>"
        f"<post_test_score>75.5</post_test_score></participant>"
        for name, sex, role in participants)
    women = sum(1 for _, sex, _ in participants if sex == "female")
    body = (f"<start>2026-11-20T09:00:00.000+03:00</start><end>2026-11-20T15:00:00.000+03:00"
            f"</end><today>2026-11-20</today><deviceid>collect:abc</deviceid>"
            f"<event_type>training</event_type><title>{escape(title)}</title>"
            f"<start_date>2026-11-20</start_date><end_date>2026-11-20</end_date>"
            f"<governorate>{governorate}</governorate><district>{district}</district><forum/>"
            f"<venue>Police directorate hall</venue><trainers>Sara Jamil</trainers>{people}"
            f"<participants_women>{women}</participants_women>"
            f"<participants_men>{len(participants) - women}</participants_men>"
            f"<participants_total>{len(participants)}</participants_total>"
            f"<participants_summary/>")
    return instance(FORM, VERSION, body, **options)
