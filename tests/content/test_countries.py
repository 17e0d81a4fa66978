"""Country detection from prose: names via pycountry, demonyms from the module's own short list."""

from __future__ import annotations

import pytest

from octracker.countries import country_mentions, is_known_geo, main_country


def test_names_and_demonyms_count_for_their_country() -> None:
    text = "The Netherlands and Dutch networks; Belgium’s ports and Belgian police; the Czech Republic."
    assert country_mentions(text) == {"NL": 2, "BE": 2, "CZ": 1}


def test_longest_name_wins() -> None:
    assert country_mentions("Papua New Guinea") == {"PG": 1}


def test_lower_case_words_are_not_countries() -> None:
    assert country_mentions("a turkey and a chad") == {}


def test_main_country_needs_a_clear_first() -> None:
    assert main_country("Belgium, Belgium and the Netherlands") == "BE"
    assert main_country("Belgium and the Netherlands") is None
    assert main_country("no country here") is None


@pytest.mark.parametrize(
    ("code", "known"),
    [
        ("BEANR+BEZEE", True),
        ("BEANR", True),
        ("BE-BRU", True),
        ("BEZEE+BEANR", False),  # one spelling per group: alphabetical order
        ("BEANR+BEANR", False),
        ("BEANR+", False),
        ("BEANR+BE", False),
        ("BEANR+QQABC", False),
        ("BE+NL", False),
    ],
)
def test_port_groups_are_known_geographies_in_their_one_spelling(code, known) -> None:
    assert is_known_geo(code) is known


@pytest.mark.parametrize(
    ("code", "known"),
    [
        ("NL-GM0363", True),  # Amsterdam, as CBS's tables code it (tests/cases: the recorded OData catalog)
        ("NL-WK036301", True),
        ("NL-BU03630000", True),
        ("NL-PV27", True),
        ("NL-GM363", False),  # a municipality has four digits
        ("NL-WK0363", False),
        ("NL-BU036300", False),
        ("BE-GM0363", False),  # CBS codes are Dutch regions only
        ("NL-XX0363", False),
    ],
)
def test_cbs_regions_are_known_geographies(code, known) -> None:
    assert is_known_geo(code) is known
