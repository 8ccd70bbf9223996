"""Fixtures of the roster tests."""

from datetime import date

import pytest
from django.utils import timezone

WALKTHROUGH_DAY = date(2026, 12, 7)


@pytest.fixture
def today(monkeypatch):
    """The walkthrough's day for the pages and services; a date of a moment (a meeting entered on the day
    it was held) is still worked out from that moment."""
    real = timezone.localdate
    monkeypatch.setattr(
        timezone, "localdate", lambda value=None, *args: real(value, *args) if value else WALKTHROUGH_DAY
    )
    return WALKTHROUGH_DAY
