"""mathdl_grading.late: late days and penalties, worked out by hand (no kernel)."""

import datetime as dt

import pytest

from mathdl_grading import late

DUE = "2026-10-01T12:00:00+00:00"


def utc(text):
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC).replace(tzinfo=None)


def test_free_days_go_to_the_earliest_due_date_then_each_day_costs_the_percentage():
    policy = late.parse(
        {
            "free_late_days": 2,
            "penalty_percent_per_day": 10,
            "due": {"a1": DUE, "a2": "2026-10-08T12:00:00+00:00", "a3": "2026-10-15T12:00:00Z"},
            "free_late_days_for": {"carol": 5},
            "extensions": {"bob": {"a2": 3}},
        }
    )
    times = {
        ("alice", "a1"): utc("2026-10-01T12:00:01+00:00"),  # 1 s late: 1 day, free
        ("alice", "a2"): utc("2026-10-11T11:00:00+00:00"),  # 2 days 23 h: 3 days, 1 free
        ("alice", "a3"): utc("2026-10-15T14:00:00+02:00"),  # 12:00 UTC: on time
        ("bob", "a2"): utc("2026-10-11T12:00:00+00:00"),  # exactly the extended due date
        ("carol", "a1"): utc("2026-10-20T12:00:00+00:00"),  # 19 days: 5 free, 14 charged
    }
    book = late.ledger(policy, times)
    assert book["alice", "a1"] == late.Late(1, 1, 1, 0, 0.0)
    assert book["alice", "a2"] == late.Late(3, 1, 0, 2, 20.0)
    assert book["alice", "a3"] == late.Late(0, 0, 0, 0, 0.0)
    assert book["bob", "a2"] == late.Late(0, 0, 2, 0, 0.0)
    assert book["carol", "a1"] == late.Late(19, 5, 0, 14, 100.0)  # at most all the points


def test_grace_minutes_and_time_zones():
    policy = late.parse({"grace_minutes": 10, "penalty_percent_per_day": 5, "due": {"a": DUE}})
    on_time = late.days_late(policy, "x", "a", utc("2026-10-01T14:09:59+02:00"))
    late_by_one = late.days_late(policy, "x", "a", utc("2026-10-01T12:10:01+00:00"))
    assert (on_time, late_by_one) == (0, 1)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"due": {"a": "2026-10-01T12:00:00"}}, "no time zone"),
        ({"due": {"a": "next friday"}}, "due date of a"),
        ({"free_days": 2}, "unknown key"),
        ({"penalty_percent_per_day": -5}, "penalty_percent_per_day must be a number >= 0"),
        ({"free_late_days": 1.5}, "whole number"),
        ({"due": {"a": DUE}, "extensions": {"bob": {"b": 2}}}, "b has no due date"),
    ],
)
def test_a_bad_policy_is_refused_with_the_reason(raw, message):
    with pytest.raises(late.PolicyError, match=message):
        late.parse(raw)


def test_a_policy_file_that_is_not_toml_names_the_file(tmp_path):
    (tmp_path / late.POLICY_FILE).write_text("free_late_days = [\n")
    with pytest.raises(late.PolicyError, match=late.POLICY_FILE):
        late.find(tmp_path)
