"""The deterministic skills rules are wired to (autogenesis.runtime.skills)."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest

from autogenesis.runtime import skills
from autogenesis.runtime.skills import SkillError


def test_mentioned_matches_whole_words_ignoring_case():
    assert skills.mentioned("The site is DOWN since 9am", ["down", "outage"]) == ["down"]
    assert skills.mentioned("a downpour", ["down"]) == []
    assert skills.mentioned("two desks and three boxes", ["desk", "box"]) == ["desk", "box"]
    assert skills.mentioned("12500 EUR to NL", ["DE", "FR", "NL"]) == ["NL"]


def test_classify_takes_the_first_label_whose_terms_appear_else_the_default():
    labels = {"urgent": ["outage", "breach"], "billing": ["invoice", "refund"]}
    assert skills.classify("a data breach and a refund", labels, "normal") == "urgent"
    assert skills.classify("where is my refund?", labels, "normal") == "billing"
    assert skills.classify("hello", labels, "normal") == "normal"


def test_flag_and_choose():
    assert skills.flag(True, "suspicious") == "suspicious"
    assert skills.flag(False, "suspicious") == "not suspicious"
    options = ["office", "travel", "software"]
    assert skills.choose("a train ticket, travel", options) == "travel"
    assert skills.choose("office chairs for travel", options) is None   # two: undecided
    assert skills.choose("nothing", options) is None


def test_matches_is_a_regex_search():
    assert skills.matches("call +49 30 1234 or 030-999", r"\d{3}-\d{3}") == ["030-999"]


def test_numbers_leave_out_dates_and_times_and_read_thousands():
    assert skills.numbers("12500 EUR to NL on 2026-05-04 at 10:30") == [Decimal(12500)]
    assert skills.numbers("12,500.50 and 3 items on 4 May 2026") == [Decimal("12500.50"),
                                                                       Decimal(3)]
    assert skills.over("12500 EUR on 2026-05-04", 10000)
    assert not skills.over("80 EUR on 2026-05-04", 10000)   # the date's 2026 is no amount
    assert skills.under("80 EUR", 100) and not skills.under("180 EUR", 100)


def test_check_total_names_what_does_not_add_up():
    ok, why = skills.check_total("2 chairs 120.00, 1 desk 300.00, total 420.00")
    assert ok and "120.00 + 300.00 = 420.00" in why
    ok, why = skills.check_total("2 chairs 120.00, 1 desk 290.00, total 420.00")
    assert not ok
    assert "410.00, not the total 420.00" in why and "off by 10.00" in why
    with pytest.raises(SkillError, match="states no total"):
        skills.check_total("2 chairs 120.00")
    with pytest.raises(SkillError, match="no amount for the total"):
        skills.check_total("chairs 120.00, total due")


def test_dates_after_offsets_the_first_date_of_the_input():
    got = skills.dates_after("12500 EUR to NL on 2026-05-04", {"call": 2, "review": 14})
    assert got == {"call": "2026-05-06", "review": "2026-05-18"}
    assert skills.dates_after("meeting on May 30, 2026", {"follow_up": 7}) == {
        "follow_up": "2026-06-06"}
    assert skills.dates_in("on 31 December 2026 or 2027-01-02") == [
        date(2026, 12, 31), date(2027, 1, 2)]
    with pytest.raises(SkillError, match="no date"):
        skills.dates_after("tomorrow", {"call": 2})


def test_not_future():
    assert skills.not_future("ACME, 2026-03-02", date(2026, 11, 30))[0]
    ok, why = skills.not_future("ACME, 2027-03-02", date(2026, 11, 30))
    assert not ok and "2027-03-02 is in the future" in why


def test_counts_limits_and_majority():
    assert skills.at_most([1, 2, 3, 4], 3) == [1, 2, 3]
    listed = "Questions:\n1. Why?\n2. When?\n- Who?\n* How?\nThanks."
    assert skills.keep_items(listed, 3) == "Questions:\n1. Why?\n2. When?\n- Who?\nThanks."
    assert skills.count_within([1, 2], 3, 5) == (False, "2 given, at least 3 wanted")
    assert skills.count_within([1] * 6, 3, 5) == (False, "6 given, at most 5 wanted")
    assert skills.count_within([1] * 4, 3, 5)[0]
    assert skills.majority(["a", "b", "a"]) == ("a", {"a": 2, "b": 1})
    assert skills.majority(["a", "b"])[0] is None            # a tie is no majority


def test_within_keeps_what_answers_in_time_and_names_the_rest():
    async def answer(value: str, delay: float) -> str:
        await asyncio.sleep(delay)
        return value

    async def crash() -> str:
        raise RuntimeError("model server gone")

    answers, skipped = asyncio.run(skills.within(
        {"fast": answer("a", 0.0), "slow": answer("b", 5.0), "broken": crash()}, 0.2))
    assert answers == {"fast": "a"}
    assert skipped == {"slow": "did not answer within 0.2 s",
                       "broken": "failed: model server gone"}


def test_lookup_reads_a_filled_table_and_says_when_it_is_not(tmp_path):
    table = tmp_path / "prices.csv"
    with pytest.raises(SkillError, match="is missing: create it with the columns item, "
                                         "price"):
        skills.lookup("a desk", table, "item", "price")
    table.write_text("item,price\n", encoding="utf-8")
    with pytest.raises(SkillError, match="has no rows yet: fill it in"):
        skills.lookup("a desk", table, "item", "price")
    table.write_text("name,cost\ndesk,300\n", encoding="utf-8")
    with pytest.raises(SkillError, match="has no column item, price"):
        skills.lookup("a desk", table, "item", "price")
    table.write_text("item,price\nchair,120\ndesk,300\n", encoding="utf-8")
    assert skills.lookup("one desk please", table, "item", "price") == "300"
    with pytest.raises(SkillError, match="names no item listed"):
        skills.lookup("a lamp", table, "item", "price")
    as_json = tmp_path / "prices.json"
    as_json.write_text('[{"item": "lamp", "price": "40"}]', encoding="utf-8")
    assert skills.lookup("a lamp", as_json, "item", "price") == "40"


def test_python_code_takes_the_fenced_blocks_and_parse_problem_says_where():
    answer = "Sure:\n```python\ndef f():\n    return 1\n```\nand\n```\nX = 2\n```"
    assert skills.python_code(answer) == "def f():\n    return 1\n\nX = 2\n"
    assert skills.python_code("def g(): pass") == "def g(): pass\n"
    assert skills.parse_problem("def g(): pass\n") is None
    assert skills.parse_problem("def g() pass\n").startswith("line 1:")


def test_run_tests_runs_pytest_in_the_sandbox_and_counts():
    code = "def add(a, b):\n    return a + b\n"
    passing = skills.run_tests(code, "def test_add():\n    assert add(1, 2) == 3\n")
    assert passing.ok and (passing.passed, passing.failed) == (1, 0)   # import added
    failing = skills.run_tests(code, "from solution import add\n\n"
                               "def test_add():\n    assert add(1, 2) == 4\n")
    assert not failing.ok and failing.failed == 1 and "assert 3 == 4" in failing.output
    empty = skills.run_tests(code, code)
    assert empty.no_tests and not empty.ok and empty.summary().startswith("no tests")
    broken = skills.run_tests("def add(a, b) return", "def test_add():\n    assert add\n")
    assert not broken.ok and broken.errors >= 1
