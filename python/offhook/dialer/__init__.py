"""Outbound dialer: campaigns, pacing (preview, progressive, predictive), a simulator and
the asyncio runner that drives a call-placing :class:`~offhook.dialer.runner.Originator`."""
from offhook.dialer.campaign import (
    CallingHours,
    CampaignConfig,
    Contact,
    ContactState,
    Outcome,
    PacingMode,
    RetryRule,
    decide_retry,
    read_contacts,
)
from offhook.dialer.pacing import (
    PacingPolicy,
    PacingState,
    PredictivePacing,
    PreviewPacing,
    ProgressivePacing,
    make_policy,
)
from offhook.dialer.store import AttemptResult, CampaignStore, Claim

__all__ = [
    "AttemptResult",
    "CallingHours",
    "CampaignConfig",
    "CampaignStore",
    "Claim",
    "Contact",
    "ContactState",
    "Outcome",
    "PacingMode",
    "PacingPolicy",
    "PacingState",
    "PredictivePacing",
    "PreviewPacing",
    "ProgressivePacing",
    "RetryRule",
    "decide_retry",
    "make_policy",
    "read_contacts",
]
