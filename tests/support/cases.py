"""Referral cases in tests: small forms that create and update the `cases` list, and instances
carrying their `<entity>` element as ODK Collect writes it."""

from __future__ import annotations

import textwrap
from xml.sax.saxutils import escape, quoteattr

from tests.support.incidents import incident_referral
from tests.support.instances import instance, new_id
from tests.support.xlsforms import xlsform


def with_entities(form: bytes, entities: str) -> bytes:
    """A markdown XLSForm (tests.support.xlsforms) with an `entities` sheet added."""
    return form + b"\n| entities |\n" + textwrap.dedent(entities).strip("\n").encode("utf-8")


# An incident referral opens a case: the label and properties say where and what, never who
# (the victim's name stays in the submission).
REFERRAL = with_entities(xlsform("""
    | | type | name | label | save_to | calculation |
    | | text | reference | Reference | | |
    | | select_one category | category | Category | category | |
    | | text | governorate | Governorate | governorate | |
    | | text | district | District | district | |
    | | text | forum | Forum | forum | |
    | | select_one urgency | urgency | Urgency | urgency | |
    | | text | victim_name | Victim's name | | |
    | | calculate | status | | status | 'open' |
""", form_id="incident_referral", version="3", choices="""
    | | list_name | name | label |
    | | category | theft | Theft |
    | | category | threat | Threat |
    | | urgency | high | High |
    | | urgency | normal | Normal |
"""), """
    | | list_name | label |
    | | cases | concat(${reference}, ' ', ${category}, ' ', ${forum}) |
""")

# A follow-up picks one of the phone's cases and updates it.
FOLLOW_UP = with_entities(xlsform("""
    | | type | name | label | save_to |
    | | select_one_from_file cases.csv | case | Case | |
    | | text | outcome | Outcome | |
    | | select_one status | status | Status | status |
    | | date | next_follow_up | Next follow-up | next_follow_up |
""", form_id="referral_follow_up", version="1", choices="""
    | | list_name | name | label |
    | | status | open | Open |
    | | status | in_progress | In progress |
    | | status | referred_on | Referred on |
    | | status | closed | Closed |
"""), """
    | | list_name | entity_id |
    | | cases | ${case} |
""")


def entity(case_id: str, *, dataset: str = "cases", create: str | None = None,
           update: str | None = None, base_version: str = "", trunk_version: str = "",
           branch_id: str = "", label: str | None = "") -> str:
    """The `<entity>` element of an instance's meta, as Collect fills it: an update carries the
    version the phone's copy was at, the trunk version and the branch of that copy."""
    attributes = {"dataset": dataset, "id": case_id}
    if create is not None:
        attributes["create"] = create
    if update is not None:
        attributes.update(update=update, baseVersion=base_version, trunkVersion=trunk_version,
                          branchId=branch_id)
    text = " ".join(f"{name}={quoteattr(value)}" for name, value in attributes.items())
    inner = f"<label>{escape(label)}</label>" if label is not None else ""
    return f"<entity {text}>{inner}</entity>"


def case_instance(form_id: str, version: str, answers: dict[str, str] | str,
                  entity_xml: str = "", *, instance_id: str | None = None) -> bytes:
    """An instance with `answers` (name -> value, escaped for you; or XML as it is) and the
    entity element in its meta."""
    body = answers if isinstance(answers, str) else "".join(
        f"<{name}>{escape(value)}</{name}>" for name, value in answers.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?><data id="{form_id}" version="{version}">'
            f"{body}<meta><instanceID>{instance_id or new_id()}</instanceID>{entity_xml}"
            "</meta></data>").encode()


# The programme's shapes of the two, for the test forms above (a phone of forum F1).
def referral(case_id: str, *, forum: str = "F1", label: str = "R1 theft F1") -> bytes:
    return case_instance("incident_referral", "3", {
        "reference": "R1", "category": "theft", "governorate": "Basra", "district": "Zubair",
        "forum": forum, "urgency": "high", "victim_name": "not a property", "status": "open",
    }, entity(case_id, create="1", label=label))


def follow_up(case_id: str, status: str, *, base: int, trunk: int | None = None,
              branch: str | None = None, next_date: str = "2026-12-20") -> bytes:
    return case_instance("referral_follow_up", "1", {
        "case": case_id, "outcome": "called the agency", "status": status,
        "next_follow_up": next_date,
    }, entity(case_id, update="1", base_version=str(base),
              trunk_version="" if trunk is None else str(trunk), branch_id=branch or "",
              label=None))


def programme_referral(case_id: str, *, governorate: str = "anbar",
                       label: str = "INC-20261120-ABC12 · Theft") -> bytes:
    """The programme's incident referral (tests.support.incidents) opening case `case_id`."""
    return incident_referral(governorate=governorate).replace(
        b"</meta>", entity(case_id, create="1", label=label).encode() + b"</meta>")


def programme_follow_up(case_id: str, status: str, *, base: int, governorate: str = "anbar",
                        district: str = "ramadi", next_date: str = "2026-12-20",
                        branch: str | None = None) -> bytes:
    """The programme's referral_follow_up as Collect fills it for case `case_id`, whose copy on
    the phone is at version `base` as the server sent it (Collect names a new branch then)."""
    next_follow_up = "" if status == "closed" else next_date
    body = (f"<start>2026-12-01T09:00:00.000+03:00</start><end>2026-12-01T09:10:00.000+03:00"
            f"</end><today>2026-12-01</today><deviceid>collect:abc</deviceid>"
            f"<governorate>{governorate}</governorate><district>{district}</district><forum/>"
            f"<case>{case_id}</case><case_label/><case_follow_up_date/>"
            f"<current_state><case_summary/><case_status/><case_category/><case_urgency/>"
            f"<case_agency/><case_follow_up_note/></current_state>"
            f"<action_date>2026-12-01</action_date><agency_contacted>police_station"
            f"</agency_contacted><agency_contacted_other/>"
            f"<outcome>Called the station; a visit is planned.</outcome><status>{status}</status>"
            f"<next_step>Visit</next_step><next_follow_up_date>{next_follow_up}"
            f"</next_follow_up_date>")
    return instance("referral_follow_up", "2026120301", body).replace(
        b"</meta>", entity(case_id, update="1", base_version=str(base), trunk_version=str(base),
                           branch_id=branch or new_id().removeprefix("uuid:"),
                           label=None).encode() + b"</meta>")
