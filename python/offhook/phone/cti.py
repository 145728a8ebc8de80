"""The phone's calls as offhook.cti sees them (CallEventLike), for screen pops and hooks."""
from __future__ import annotations

from offhook.cti import CallSnapshot
from offhook.phone.call import Call
from offhook.phone.events import CallState

__all__ = ["cti_call"]

# The CTI's three moments (ringing, answered, hung up) from the phone's states.
_CTI_STATE = {CallState.DIALING: "calling", CallState.ENDED: "ended", CallState.TRANSFERRED: "ended"}


def cti_call(call: Call) -> CallSnapshot:
    """A frozen picture of `call` for CtiService.call_event()."""
    return CallSnapshot(call_id=call.id, direction=call.direction, remote_uri=call.remote_uri,
                        state=_CTI_STATE.get(call.state, call.state.value),
                        display_name=call.remote_name or None, account=call.account,
                        started_at=call.started, answered_at=call.answered_at, ended_at=call.ended_at)
