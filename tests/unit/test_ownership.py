"""Ownership is one story told in four places: the alerts' ``team`` label, the runbooks, CODEOWNERS
and docs/ownership.md. These tests fail as soon as one of them drifts from the others."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from processor.config import PROJECT_ROOT

CODEOWNERS = PROJECT_ROOT / "CODEOWNERS"
OWNERSHIP_PAGE = PROJECT_ROOT / "docs" / "ownership.md"
ALERTS = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml"
ORG = "@event-scoring/"
#: The areas production AI needs, as the issue names them, by their label in the alerts.
TEAMS = {"data-pipelines", "ml-models", "platform", "oncall"}


def _alert_teams() -> dict[str, str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule["labels"]["team"] for group in groups for rule in group["rules"]}


def _codeowners() -> list[tuple[str, list[str]]]:
    rules = []
    for line in CODEOWNERS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pattern, *owners = line.split()
            rules.append((pattern, owners))
    return rules


def _matches(pattern: str, path: str) -> bool:
    # the subset of gitignore syntax this CODEOWNERS uses (test_patterns_are_simple pins it)
    if pattern == "*":
        return True
    target = pattern.strip("/")
    return path == target or path.startswith(target + "/")


def _owners(path: str) -> tuple[str, list[str]]:
    """The last matching line wins, as on GitHub."""
    found = ("", [])
    for pattern, owners in _codeowners():
        if _matches(pattern, path):
            found = (pattern, owners)
    return found


def _page_sections() -> dict[str, str]:
    sections: dict[str, str] = {}
    for block in re.split(r"^## ", OWNERSHIP_PAGE.read_text(), flags=re.MULTILINE)[1:]:
        title, _, body = block.partition("\n")
        sections[title.strip()] = body
    return sections


def test_the_alerts_name_exactly_the_four_teams() -> None:
    assert set(_alert_teams().values()) == TEAMS


def test_patterns_are_simple_and_every_path_exists() -> None:
    for pattern, _ in _codeowners():
        if pattern == "*":
            continue
        assert pattern.startswith("/") and not re.search(r"[*?\[\]!]", pattern), pattern
        path = PROJECT_ROOT / pattern.strip("/")
        assert path.exists(), f"CODEOWNERS names {pattern}, which does not exist"
        if pattern.endswith("/"):
            assert path.is_dir(), pattern


def test_every_owner_is_one_of_the_teams_and_every_team_owns_code() -> None:
    owning: set[str] = set()
    for pattern, owners in _codeowners():
        assert owners, f"{pattern} has no owner"
        for owner in owners:
            assert owner.startswith(ORG) and owner.removeprefix(ORG) in TEAMS, owner
            if pattern != "*":
                owning.add(owner.removeprefix(ORG))
    assert owning == TEAMS


def test_a_default_owner_comes_first() -> None:
    # the default must be the first line: a later `*` would override every specific line
    assert _codeowners()[0][0] == "*"
    assert [p for p, _ in _codeowners()].count("*") == 1


def _package_modules() -> list[str]:
    return sorted(str(p.relative_to(PROJECT_ROOT)) for p in (PROJECT_ROOT / "processor").rglob("*.py"))


@pytest.mark.parametrize("module", _package_modules())
def test_every_module_of_the_package_has_a_named_owner(module: str) -> None:
    if module == "processor/__init__.py" or module == "processor/__main__.py":
        return  # the package shell: the default owner is right
    pattern, owners = _owners(module)
    assert pattern not in ("", "*"), f"{module} falls through to the default owner: name its team in CODEOWNERS"
    assert owners


def test_codeowners_resolves_the_areas_to_their_teams() -> None:
    # spot checks of the last-match-wins order: a specific line below a broad one takes over
    assert _owners("processor/decide/rules.py")[1] == [f"{ORG}ml-models"]
    assert _owners("processor/decide/killswitch.py")[1][0] == f"{ORG}oncall"
    assert _owners("deploy/prometheus/alerts.yml")[1][0] == f"{ORG}oncall"
    assert _owners("deploy/k8s/deployment.yaml")[1] == [f"{ORG}platform"]
    assert _owners("schemas/input/user_signed_up.v1.avsc")[1] == [f"{ORG}data-pipelines"]
    assert _owners("README.md")[1] == [f"{ORG}platform"]


def test_the_ownership_page_has_a_section_per_team_listing_its_alerts() -> None:
    sections = _page_sections()
    alerts = _alert_teams()
    for team in TEAMS:
        assert team in sections, f"docs/ownership.md has no '## {team}' section"
        assert f"| `{team}` |" in OWNERSHIP_PAGE.read_text(), f"{team} missing from the teams table"
    for alert, team in alerts.items():
        listed_in = {t for t in TEAMS if re.search(rf"\b{alert}\b", sections[t])}
        assert listed_in == {team}, f"{alert} (team {team}) is listed under {sorted(listed_in)}"


@pytest.mark.parametrize("page", ["README.md", "docs/runbooks/README.md"])
def test_the_ownership_page_is_linked(page: str) -> None:
    text = (PROJECT_ROOT / page).read_text()
    links = re.findall(r"\]\(([^)]*ownership\.md)\)", text)
    assert links, f"{page} does not link docs/ownership.md"
    for link in links:
        assert (Path(PROJECT_ROOT / page).parent / link).resolve() == OWNERSHIP_PAGE.resolve()


def test_every_runbook_names_the_team_of_its_alert_in_its_owner_section() -> None:
    for alert, team in _alert_teams().items():
        page = (PROJECT_ROOT / "docs" / "runbooks" / f"{alert}.md").read_text()
        owner_section = page.split("## Who owns it", 1)[1]
        assert owner_section.lstrip().startswith(f"`{team}`"), alert
