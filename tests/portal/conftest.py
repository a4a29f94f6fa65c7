"""Fixtures the portal's account and team tests share."""

import pytest

from disputes.choices import MemberRole
from tests.factories import MembershipFactory


@pytest.fixture
def owner():
    """The owner of "Demo Shop", signing in as owner@shop.example."""
    return MembershipFactory(
        user__username="owner@shop.example", merchant__name="Demo Shop", role=MemberRole.OWNER
    )
