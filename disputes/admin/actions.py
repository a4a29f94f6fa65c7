"""The case desk's actions, one table: each action's form, what it does, and who may take it.

The desk renders a form per action (from `DESK_ACTIONS`), posts to one URL per action, and
`desk_actions_allowed` decides what the buttons show and what a post may do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from .. import services
from ..actors import Actor
from ..choices import Party, State
from ..models import Dispute
from ..policies import FINAL_STATES
from ..privacy import holds
from .forms import (
    AssignForm,
    DecisionForm,
    DecisionRecordForm,
    LegalHoldForm,
    LiftHoldForm,
    ReopenForm,
    RequestInformationForm,
    ReturnDecisionForm,
)


@dataclass(frozen=True)
class DeskAction:
    # The form the action posts (None: a button), its field prefix, and its name on the page.
    form: type[forms.Form] | None
    prefix: str
    context_name: str
    apply: Callable[[Dispute, Actor, dict[str, Any]], object]

    def _for(self, dispute: Dispute) -> dict[str, Any]:
        # A decision's form lists the case's own evidence items.
        return (
            {"dispute": dispute} if self.form and issubclass(self.form, DecisionRecordForm) else {}
        )

    def bound_form(self, data: Any, dispute: Dispute) -> forms.Form | None:
        return self.form(data, prefix=self.prefix, **self._for(dispute)) if self.form else None

    def blank_form(self, dispute: Dispute) -> forms.Form | None:
        if self.form is None:
            return None
        initial = {"assignee": dispute.assigned_to_id} if self.form is AssignForm else None
        return self.form(prefix=self.prefix, initial=initial, **self._for(dispute))


def _assign_me(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> object:
    return services.dispute_assign(dispute=dispute, actor=actor, assignee_id=actor.user_id)


def _assign(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> object:
    assignee = data["assignee"]
    return services.dispute_assign(
        dispute=dispute, actor=actor, assignee_id=assignee.pk if assignee else None
    )


def _request_info(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> object:
    return services.dispute_request_information(
        dispute=dispute,
        actor=actor,
        party=Party(data["party"]),
        message=data["message"],
        working_days=data["working_days"],
    )


def _decide(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> object:
    return services.dispute_decide(
        dispute=dispute,
        actor=actor,
        outcome=data["outcome"],
        amount=data["amount"],
        reason=data["reason"],
        fraud_proven=data.get("fraud_proven", False),
        code=data["code"],
        assessments=data["assessments"],
        override_reason=data["override_reason"],
    )


def _decide_return(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> object:
    return services.dispute_decide_return(
        dispute=dispute,
        actor=actor,
        amount=data["amount"],
        reason=data["reason"],
        code=data["code"],
        assessments=data["assessments"],
        override_reason=data["override_reason"],
    )


def _reopen(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> object:
    return services.dispute_reopen(dispute=dispute, actor=actor, reason=data["reason"])


def _hold(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> object:
    return holds.legal_hold_place(dispute=dispute, actor=actor, reason=data["reason"])


def _lift_hold(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> object:
    return holds.legal_hold_lift(dispute=dispute, actor=actor, reason=data["reason"])


DESK_ACTIONS: dict[str, DeskAction] = {
    "assign_me": DeskAction(None, "", "", _assign_me),
    "assign": DeskAction(AssignForm, "assign", "assign_form", _assign),
    "request_info": DeskAction(RequestInformationForm, "info", "request_form", _request_info),
    "decide": DeskAction(DecisionForm, "decide", "decision_form", _decide),
    "decide_return": DeskAction(ReturnDecisionForm, "return", "return_form", _decide_return),
    "reopen": DeskAction(ReopenForm, "reopen", "reopen_form", _reopen),
    "hold": DeskAction(LegalHoldForm, "hold", "hold_form", _hold),
    "lift_hold": DeskAction(LiftHoldForm, "lift", "lift_hold_form", _lift_hold),
}


def staff_actor(request: HttpRequest) -> Actor:
    """The signed-in support member as the actor of a desk action."""
    if request.user.pk is None:
        raise PermissionDenied
    return Actor.staff(user_id=int(request.user.pk))


def desk_actions_allowed(dispute: Dispute, user: Any, *, ignore_state: bool = False) -> set[str]:
    """The desk actions this staff member may take on this case now.

    With `ignore_state` only permissions count: the service then says, in words, when the
    state does not allow it (two colleagues acting at once get a clear message, not a 403).
    """
    allowed: set[str] = set()
    may_decide = user.has_perm("disputes.decide_dispute")
    if dispute.appealed_at is not None and dispute.is_open:
        may_decide = may_decide and user.has_perm("disputes.decide_appeal")
    may_assign = user.has_perm("disputes.assign_dispute")
    if may_assign:
        allowed.add("assign")
    if may_decide and (may_assign or dispute.assigned_to_id in (None, user.pk)):
        allowed.add("assign_me")
    with_support = dispute.state in (State.ESCALATED, State.INFO_REQUESTED)
    if may_decide and (with_support or ignore_state):
        allowed.update({"decide", "decide_return"})
    if may_decide and (dispute.state == State.ESCALATED or ignore_state):
        allowed.add("request_info")
    closed_for_good = dispute.state in FINAL_STATES
    if user.has_perm("disputes.reopen_dispute") and (closed_for_good or ignore_state):
        allowed.add("reopen")
    if user.has_perm("disputes.hold_dispute"):
        if ignore_state:
            allowed.update({"hold", "lift_hold"})
        else:
            allowed.add("lift_hold" if holds.hold_in_force(dispute) else "hold")
    return allowed
