import pytest


@pytest.fixture(autouse=True)
def _groups(support_groups) -> None:  # type: ignore[no-untyped-def]
    """Every support test may rely on the staff groups."""
