"""What an officer's case update does to the case the server holds: officers open cases and
follow them up offline, their updates arrive late and out of order, two officers update the same
case, and a supervisor sees the conflicts."""

from __future__ import annotations

from dataclasses import replace

from sync.entities import EntityAction
from sync.entity_updates import (
    AUTO_LABEL,
    HARD,
    SOFT,
    Decision,
    EntityVersion,
    HoldKey,
    Outcome,
    Refusal,
    ServerEntity,
    decide,
    next_held,
    successor,
)

CASE = "6f9c1a2e-3b4d-4e5f-8a6b-7c8d9e0f1a2b"
PHONE_A = "0d1e2f3a-4b5c-4d6e-9f70-8192a3b4c5d6"  # officer A's branch of this case
PHONE_B = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
LABEL = "RAM-0042 threat ramadi-1"
OPENED = {"category": "threat", "governorate": "Anbar", "district": "Ramadi",
          "forum": "ramadi-1", "urgency": "high", "status": "open"}


def referral(label: str | None = LABEL, **properties: str) -> EntityAction:
    """An officer opens the case (incident_referral)."""
    return EntityAction(dataset="cases", uuid=CASE, create=True, update=False, label=label,
                        base_version=None, trunk_version=None, branch_id=None,
                        properties={**OPENED, **properties})


def follow_up(base: int | None, *, trunk: int | None = None, branch: str | None = None,
              label: str | None = None, create: bool = False, **properties: str
              ) -> EntityAction:
    """An officer follows the case up (referral_follow_up), from the version the phone holds."""
    return EntityAction(dataset="cases", uuid=CASE, create=create, update=True, label=label,
                        base_version=base, trunk_version=trunk, branch_id=branch,
                        properties=properties)


def store(case: ServerEntity | None, decision: Decision, source: str = "uuid:s") -> ServerEntity:
    """What the server keeps of an applied decision: the case's next version."""
    assert decision.applied, decision.message
    version = EntityVersion(
        number=decision.version, data=decision.data, label=decision.label,
        branch_id=decision.branch_id, trunk_version=decision.trunk_version,
        branch_base_version=decision.branch_base_version, source=source,
        forced=decision.forced)
    return ServerEntity(uuid=decision.uuid, versions=(case.versions if case else ()) + (version,),
                        conflict=decision.conflict)


def apply(case: ServerEntity | None, action: EntityAction, **options) -> ServerEntity:
    return store(case, decide(action, case, **options))


def opened_and_followed_up() -> ServerEntity:
    """A case at version 2: opened, then followed up online. Phones download it at version 2."""
    return apply(apply(None, referral()), follow_up(1, status="in_progress"))


def test_an_officer_opens_a_case_offline_and_it_arrives():
    decision = decide(referral(), None)

    assert (decision.outcome, decision.version, decision.label) == (
        Outcome.APPLY_CREATE, 1, LABEL)
    assert decision.data == OPENED
    assert (decision.conflict, decision.forced, decision.upsert) == (None, False, False)
    assert successor(decision) == HoldKey(CASE, None, 1)


def test_opening_a_case_that_exists_is_refused():
    decision = decide(referral(), apply(None, referral()))
    assert (decision.outcome, decision.refusal) == (Outcome.REFUSE, Refusal.EXISTS)
    assert decision.message == f"case {CASE} already exists"


def test_a_follow_up_merges_into_the_current_version_and_keeps_the_label():
    decision = decide(follow_up(1, status="in_progress", next_follow_up="2026-12-09"),
                      apply(None, referral()))

    assert (decision.outcome, decision.version, decision.base_version) == (
        Outcome.APPLY_UPDATE, 2, 1)
    assert decision.data == {**OPENED, "status": "in_progress", "next_follow_up": "2026-12-09"}
    assert decision.label == LABEL
    assert (decision.conflict, decision.conflicting_properties) == (None, ())


def test_two_offline_follow_ups_from_one_phone_arriving_out_of_order_apply_in_order():
    case = opened_and_followed_up()
    first = follow_up(2, trunk=2, branch=PHONE_A, status="referred_on")
    second = follow_up(3, trunk=2, branch=PHONE_A, next_follow_up="2026-12-20")

    held = decide(second, case)
    assert held.outcome is Outcome.HOLD
    assert held.hold == HoldKey(CASE, PHONE_A, 3)

    applied = decide(first, case)
    assert (applied.outcome, applied.version, applied.branch_base_version) == (
        Outcome.APPLY_UPDATE, 3, 2)
    assert next_held(applied, [HoldKey(CASE, PHONE_B, 3), held.hold]) == held.hold

    released = decide(second, store(case, applied))
    assert (released.outcome, released.version, released.base_version) == (
        Outcome.APPLY_UPDATE, 4, 3)
    assert released.data == {**OPENED, "status": "referred_on", "next_follow_up": "2026-12-20"}
    assert released.conflict is None
    assert next_held(released, [held.hold]) is None


def test_a_follow_up_of_a_case_opened_offline_waits_for_the_referral():
    follow = follow_up(1, branch=PHONE_A, status="in_progress")

    held = decide(follow, None)
    assert (held.outcome, held.hold) == (Outcome.HOLD, HoldKey(CASE, PHONE_A, 1))

    created = decide(referral(), None)
    assert next_held(created, [held.hold]) == held.hold
    released = decide(follow, store(None, created))
    assert (released.outcome, released.version, released.conflict) == (
        Outcome.APPLY_UPDATE, 2, None)


def test_two_officers_changing_different_properties_is_a_soft_conflict():
    case = opened_and_followed_up()
    case = apply(case, follow_up(2, trunk=2, branch=PHONE_A, status="referred_on"))

    decision = decide(follow_up(2, trunk=2, branch=PHONE_B, next_follow_up="2026-12-15"), case)

    assert (decision.outcome, decision.version, decision.base_version) == (
        Outcome.APPLY_UPDATE, 4, 2)
    assert (decision.conflict, decision.conflicting_properties) == (SOFT, ())
    assert decision.data["status"] == "referred_on"  # both officers' changes are kept
    assert decision.data["next_follow_up"] == "2026-12-15"


def test_two_officers_setting_one_property_differently_is_a_hard_conflict():
    case = opened_and_followed_up()
    case = apply(case, follow_up(2, trunk=2, branch=PHONE_A, status="referred_on"))

    decision = decide(follow_up(2, trunk=2, branch=PHONE_B, status="open",
                                next_follow_up="2026-12-15"), case)
    assert (decision.conflict, decision.conflicting_properties) == (HARD, ("status",))
    assert decision.data["status"] == "open"  # the later arrival is current until resolved

    same = decide(follow_up(2, trunk=2, branch=PHONE_B, status="referred_on"), case)
    assert (same.conflict, same.conflicting_properties) == (SOFT, ())


def test_a_label_changed_by_both_officers_conflicts_too():
    case = apply(opened_and_followed_up(), follow_up(2, label="RAM-0042 threat (moved)"))
    decision = decide(follow_up(2, label="RAM-0042 theft"), case)
    assert (decision.conflict, decision.conflicting_properties) == (HARD, ("label",))
    assert decision.label == "RAM-0042 theft"


def test_a_hard_conflict_stays_hard_until_the_supervisor_resolves_it():
    case = apply(opened_and_followed_up(), follow_up(2, status="referred_on"))
    case = apply(case, follow_up(2, status="open"))
    assert case.conflict == HARD

    decision = decide(follow_up(2, next_follow_up="2027-01-05"), case)
    assert (decision.conflict, decision.conflicting_properties) == (HARD, ())


def test_an_officer_continuing_offline_after_another_officer_updated_is_a_soft_conflict():
    case = opened_and_followed_up()
    case = apply(case, follow_up(2, branch=PHONE_B, trunk=2, urgency="normal"))
    case = apply(case, follow_up(2, branch=PHONE_A, trunk=2, status="referred_on"))
    resolved = replace(case, conflict=None)  # the supervisor resolved the first conflict

    decision = decide(follow_up(3, branch=PHONE_A, trunk=2, next_follow_up="2026-12-30"),
                      resolved)
    assert (decision.outcome, decision.base_version, decision.conflict) == (
        Outcome.APPLY_UPDATE, 4, SOFT)


def test_a_held_follow_up_is_applied_on_the_latest_version_after_the_time_limit():
    case = opened_and_followed_up()
    second = follow_up(3, trunk=2, branch=PHONE_A, next_follow_up="2026-12-20")
    assert decide(second, case).outcome is Outcome.HOLD  # its predecessor never came

    forced = decide(second, case, force=True)
    assert (forced.outcome, forced.version, forced.base_version, forced.forced) == (
        Outcome.APPLY_UPDATE, 3, 2, True)
    assert forced.data == {**OPENED, "status": "in_progress", "next_follow_up": "2026-12-20"}
    assert successor(forced) == HoldKey(CASE, PHONE_A, 4)  # its own successor follows it


def test_a_forced_follow_up_of_a_case_that_never_arrived_creates_it():
    forced = decide(follow_up(1, branch=PHONE_A, status="in_progress"), None, force=True)

    assert (forced.outcome, forced.version, forced.forced, forced.upsert) == (
        Outcome.APPLY_CREATE, 1, True, True)
    assert (forced.label, forced.data) == (AUTO_LABEL, {"status": "in_progress"})
    assert forced.branch_base_version == 1

    labelled = decide(follow_up(1, branch=PHONE_A, label="RAM-0042", create=True), None,
                      force=True)
    assert labelled.label == "RAM-0042"


def test_the_late_referral_fills_in_the_case_a_forced_follow_up_made():
    case = apply(None, follow_up(1, branch=PHONE_A, status="in_progress"), force=True)

    decision = decide(referral(), case)
    assert (decision.outcome, decision.version, decision.create_as_update) == (
        Outcome.APPLY_UPDATE, 2, True)
    assert decision.data == OPENED and decision.label == LABEL
    assert (decision.conflict, decision.conflicting_properties) == (HARD, ("status", "label"))


def test_a_follow_up_of_an_unknown_case_is_refused_unless_it_may_create():
    refused = decide(follow_up(3, status="in_progress"), None)
    assert (refused.outcome, refused.refusal) == (Outcome.REFUSE, Refusal.UNKNOWN)

    upsert = decide(follow_up(3, create=True, label="RAM-0042", status="open"), None)
    assert (upsert.outcome, upsert.upsert, upsert.version) == (Outcome.APPLY_CREATE, True, 1)

    no_label = decide(follow_up(3, create=True, status="open"), None)
    assert (no_label.outcome, no_label.refusal) == (Outcome.REFUSE, Refusal.NO_LABEL)


def test_an_upsert_without_base_version_of_an_existing_case_is_refused():
    decision = decide(follow_up(None, create=True, label="RAM-0042"), opened_and_followed_up())
    assert decision.refusal is Refusal.EXISTS


def test_a_follow_up_of_a_deleted_case_is_refused_not_held():
    deleted = replace(opened_and_followed_up(), deleted=True)
    for action in (follow_up(2, status="open"), follow_up(5, trunk=2, branch=PHONE_A),
                   follow_up(2, create=True, label="x")):
        decision = decide(action, deleted)
        assert (decision.outcome, decision.refusal) == (Outcome.REFUSE, Refusal.DELETED)
    assert decide(referral(), deleted).refusal is Refusal.DELETED


def test_a_follow_up_of_a_closed_case_is_refused():
    closed = apply(opened_and_followed_up(), follow_up(2, status="closed"))

    decision = decide(follow_up(3, status="in_progress"), closed)
    assert (decision.outcome, decision.refusal) == (Outcome.REFUSE, Refusal.CLOSED)
    assert decision.message == f"case {CASE} is closed (status 'closed')"


def test_which_statuses_close_a_case_is_the_programmes_choice():
    referred = apply(opened_and_followed_up(), follow_up(2, status="referred_on"))
    assert decide(follow_up(3, status="open"), referred).applied

    decision = decide(follow_up(3, status="open"), referred,
                      closed_statuses={"closed", "referred_on"})
    assert decision.refusal is Refusal.CLOSED


def test_a_base_version_ahead_of_the_server_is_refused():
    decision = decide(follow_up(5, status="open"), opened_and_followed_up())
    assert (decision.outcome, decision.refusal) == (Outcome.REFUSE, Refusal.VERSION_NOT_FOUND)
    assert decision.message == (f"the update of case {CASE} was made from version 5, but the "
                                "server is at version 2")


def test_a_trunk_version_beyond_the_server_is_refused_not_held():
    decision = decide(follow_up(6, trunk=5, branch=PHONE_A), opened_and_followed_up())
    assert (decision.outcome, decision.refusal) == (Outcome.REFUSE, Refusal.TRUNK_AHEAD)


def test_the_same_follow_up_sent_twice_decides_the_same():
    case = opened_and_followed_up()
    action = follow_up(2, trunk=2, branch=PHONE_A, status="referred_on")

    assert decide(action, case) == decide(action, case)
    # Applied twice it would make another version: the caller recognises the submission
    # (its instanceID) and decides once.
    again = decide(action, store(case, decide(action, case)))
    assert again.version == 4


def test_hostile_labels_and_values_are_kept_as_text():
    label = "<img src=x onerror=alert(1)> \u202e"
    decision = decide(referral(label=label, forum="=cmd|'/c calc'!A0"), None)
    assert decision.label == label
    assert decision.data["forum"] == "=cmd|'/c calc'!A0"


def test_of_several_held_updates_the_first_listed_that_follows_is_released():
    created = decide(referral(), None)
    rows = [("later", HoldKey(CASE, PHONE_B, 2)), ("b", HoldKey(CASE, PHONE_B, 1)),
            ("a", HoldKey(CASE, PHONE_A, 1)), ("other case", HoldKey("1" + CASE[1:], None, 1))]
    assert next_held(created, rows, key=lambda row: row[1])[0] == "b"
    assert next_held(decide(referral(), apply(None, referral())), rows,
                     key=lambda row: row[1]) is None
