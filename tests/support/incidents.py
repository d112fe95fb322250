"""Incident referrals of the programme's own form, as a phone sends them."""

from __future__ import annotations

from tests.support.instances import instance

VERSION = "2026120301"
FORM = "incident_referral"


def incident_referral(*, governorate: str = "anbar", district: str = "ramadi",
                      category: str = "theft", location: str = "33.4211 43.3075 50.0 4.0",
                      person_name: str = "Huda Salim", person_sex: str = "female",
                      age_group: str = "age_25_39", displacement: str = "idp",
                      person_phone: str = "07701234567",
                      description: str = "Her shop was broken into at night.",
                      instance_id: str | None = None, version: str = VERSION) -> bytes:
    body = (f"<start>2026-11-20T09:00:00.000+03:00</start><end>2026-11-20T09:20:00.000+03:00"
            f"</end><today>2026-11-20</today><deviceid>collect:abc</deviceid>"
            f"<reference>INC-20261120-ABC12</reference>"
            f"<incident_datetime>2026-11-19T22:00:00.000+03:00</incident_datetime>"
            f"<governorate>{governorate}</governorate><district>{district}</district><forum/>"
            f"<location>{location}</location><category>{category}</category><category_other/>"
            f"<channel>walk_in</channel><channel_other/><consent_note/><consent>yes</consent>"
            f"<person><person_name>{person_name}</person_name><person_sex>{person_sex}"
            f"</person_sex><person_age_group>{age_group}</person_age_group>"
            f"<displacement_status>{displacement}</displacement_status>"
            f"<person_phone>{person_phone}</person_phone></person>"
            f"<agency>police_station</agency><agency_other/><urgency>routine</urgency>"
            f"<description>{description}</description><follow_up>no</follow_up>"
            f"<follow_up_date/><status>open</status>")
    return instance(FORM, version, body, instance_id=instance_id)
