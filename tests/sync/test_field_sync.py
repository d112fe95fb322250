"""The rules of a field office's sync, without a database or a network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sync import field_sync
from sync.field_sync import Backoff, Item, ItemInvalid, ReviewOutcome, decide_review


def test_an_item_is_named_by_its_content_and_a_changed_byte_is_refused():
    item = Item(3, "submission", {"xml": "PGRhdGEvPg==", "files": {"p.jpg": "a" * 64}},
                ("a" * 64,))
    assert field_sync.read_item(item.as_json(), field_sync.UP) == item
    changed = item.as_json()
    changed["body"]["xml"] = "PGRhdGEgLz4="
    with pytest.raises(ItemInvalid, match="changed on the way"):
        field_sync.read_item(changed, field_sync.UP)
    # the same content under two numbers is the same item
    assert Item(9, item.kind, dict(item.body)).sha256 == item.sha256


@pytest.mark.parametrize("raw, reason", [
    ([], "JSON object"),
    ({"kind": "form", "seq": 1, "body": {}}, "does not travel this way"),
    ({"kind": "submission", "seq": 0, "body": {}}, "positive"),
    ({"kind": "submission", "seq": True, "body": {}}, "positive"),
    ({"kind": "submission", "seq": 1, "body": {}, "blobs": ["../x"]}, "SHA-256"),
])
def test_what_is_not_an_item_is_refused(raw, reason):
    with pytest.raises(ItemInvalid, match=reason):
        field_sync.read_item(raw, field_sync.UP)


def test_times_travel_in_utc_to_the_microsecond_with_or_without_a_zone():
    baghdad = timezone(timedelta(hours=3))
    at = datetime(2026, 11, 20, 11, 30, 0, 123456, tzinfo=baghdad)
    text = field_sync.timestamp(at)
    assert text == "2026-11-20T08:30:00.123456+00:00"
    assert field_sync.parse_timestamp(text) == at
    assert field_sync.timestamp(at.astimezone(UTC).replace(tzinfo=None)) == text  # SQLite's
    with pytest.raises(ItemInvalid):
        field_sync.parse_timestamp("2026-11-20T08:30:00")


def test_a_review_is_named_alike_at_both_ends():
    at = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    key = field_sync.review_key("uuid:1", at, "layla", "approved", "fine")
    assert key == field_sync.review_key("uuid:1", at.replace(tzinfo=None), "layla", "approved",
                                        "fine")
    assert key != field_sync.review_key("uuid:1", at, "layla", "rejected", "fine")


def test_a_review_applies_only_when_its_author_had_seen_every_decision_held_here():
    assert decide_review("k1", "approved", [], [], []) is ReviewOutcome.APPLY
    assert decide_review("k1", "approved", [], ["k1"], ["k1"]) is ReviewOutcome.HELD
    # here: k0 (seen there too) then k2, made here without seeing k1
    assert decide_review("k1", "rejected", ["k0"], ["k0", "k2"], ["k0", "k2"]) \
        is ReviewOutcome.CONFLICT
    # the decision that settles it had seen both
    assert decide_review("k3", "rejected", ["k0", "k1", "k2"], ["k0", "k1", "k2"],
                         ["k0", "k1", "k2"]) is ReviewOutcome.APPLY
    # a comment without a state never conflicts
    assert decide_review("k4", None, [], ["k2"], ["k2"]) is ReviewOutcome.NOTE


def test_an_office_s_app_users_are_those_working_only_within_its_places():
    office = [("governorate", "nineveh")]
    forums = {"nin_qayyarah_01": "nineveh", "bsr_01": "basra"}
    assert field_sync.places_cover(office, [("governorate", "nineveh")], forums)
    assert field_sync.places_cover(office, [("forum", "nin_qayyarah_01")], forums)
    assert not field_sync.places_cover(office, [("forum", "bsr_01")], forums)
    assert not field_sync.places_cover(
        office, [("governorate", "nineveh"), ("governorate", "basra")], forums)
    assert not field_sync.places_cover(office, [], forums)  # headquarters' own


def test_the_loop_waits_longer_after_each_failure_up_to_a_limit():
    backoff = Backoff(first=5, most=600)
    assert [backoff.delay(n) for n in range(0, 10)] == [0, 5, 10, 20, 40, 80, 160, 320, 600,
                                                         600]
