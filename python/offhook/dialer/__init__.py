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
from offhook.dialer.runner import (
    Agent,
    AnsweredCall,
    BridgeResult,
    CallOutcome,
    CampaignRunner,
    Originator,
    RunSummary,
)
from offhook.dialer.store import AttemptResult, CampaignStore, Claim

__all__ = [
    "Agent",
    "AnsweredCall",
    "AttemptResult",
    "BridgeResult",
    "CallOutcome",
    "CallingHours",
    "CampaignConfig",
    "CampaignRunner",
    "CampaignStore",
    "Claim",
    "Contact",
    "ContactState",
    "Originator",
    "Outcome",
    "PacingMode",
    "PacingPolicy",
    "PacingState",
    "PredictivePacing",
    "PreviewPacing",
    "ProgressivePacing",
    "RetryRule",
    "RunSummary",
    "decide_retry",
    "make_policy",
    "read_contacts",
]
