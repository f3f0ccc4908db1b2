from __future__ import annotations

from controller.ec2.coverage import DOC, render


def test_coverage_table_is_current() -> None:
    assert DOC.read_text() == render(), "run: python -m controller.ec2.coverage"


def test_coverage_lists_every_registered_action() -> None:
    text = render()
    for name in ("DescribeKeyPairs", "AuthorizeSecurityGroupIngress", "CreateTags"):
        assert f"| {name} |" in text
