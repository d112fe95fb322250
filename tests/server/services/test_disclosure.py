"""Small-count suppression of figures about sensitive cases."""

from server.services.disclosure import SUPPRESSED, suppress_small_counts, unsuppressed


def test_counts_from_one_to_four_are_shown_as_under_five():
    counts = suppress_small_counts({"received": 12, "approved": 4, "hasIssues": 1,
                                    "rejected": 0, "edited": 5})

    assert counts.cells == {"received": 12, "approved": SUPPRESSED, "hasIssues": SUPPRESSED,
                            "rejected": 0, "edited": 5}
    assert SUPPRESSED == "<5" and counts.suppressed


def test_the_total_never_gives_a_hidden_count_back_by_subtraction():
    # 13 - 12 would tell the one approved case
    assert suppress_small_counts({"received": 12, "approved": 1}).total == "12+"
    assert suppress_small_counts({"received": 3, "approved": 1}).total == SUPPRESSED
    assert suppress_small_counts({"received": 3, "approved": 4}).total == "5+"


def test_nothing_is_hidden_when_no_count_is_small():
    counts = suppress_small_counts({"received": 12, "approved": 0, "rejected": 7})

    assert counts.cells == {"received": 12, "approved": 0, "rejected": 7}
    assert counts.total == 19 and not counts.suppressed
    assert unsuppressed({"received": 2}).cells == {"received": 2}
    assert unsuppressed({"received": 2, "approved": 1}).total == 3


def test_another_threshold_can_be_asked_for():
    counts = suppress_small_counts({"a": 9, "b": 10}, threshold=10)

    assert counts.cells == {"a": "<10", "b": 10} and counts.get("c") == 0
