"""The demo township shows 民主评议 at every stage."""

from collections import Counter

from django.core.management import call_command
from django.utils import timezone

from branches import demo as branch_demo
from evaluations import demo, selectors, services
from evaluations.models import Campaign, CampaignStatus


def test_demo_has_last_years_reviews_closed_and_this_years_under_way(db):
    call_command("seed_demo")
    today = timezone.localdate()
    last = Counter(Campaign.objects.filter(year=today.year - 1).values_list("status", flat=True))
    assert last[CampaignStatus.CLOSED] + last[CampaignStatus.REPORTED] >= 20
    assert last[CampaignStatus.RETURNED] == 1
    assert (
        Campaign.objects.get(branch__name=demo.SHOWCASE, year=today.year).status == CampaignStatus.IN_PROGRESS
    )
    states = {item.state for item in selectors.open_followups(as_of=today)}
    assert {"overdue", "missing"} <= states
    # Every closed campaign is complete: each participant not exempt has a grade.
    for campaign in Campaign.objects.filter(status__in=[CampaignStatus.CLOSED, CampaignStatus.REPORTED]):
        assert not campaign.participants.filter(exempt_reason="", grade="").exists()
        # ... with the dates 完成评议 needs, and a reported one those of the 结果公示 it followed.
        assert services.close_problems(campaign, today=today) == []
        if campaign.status == CampaignStatus.REPORTED:
            assert campaign.assessment_on <= campaign.publicity_start_on <= campaign.publicity_end_on
            assert campaign.publicity_end_on <= campaign.reported_on
    assert demo.seed(root=branch_demo.find_root(), today=today) == {"campaigns": 0}
