"""A page's form actions as one table: each action's form, what it does, what it says after.

The customer's case page and the merchant's case page each keep a dict of these, so adding an
action is one entry (and its URL), not two `if` chains to edit in step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms

from .. import services
from ..actors import Actor
from ..models import Dispute


@dataclass(frozen=True)
class FormAction:
    form_key: str  # the page's context name for this form, to show it again with its errors
    make_form: Callable[[Dispute, Any, Any], forms.Form]  # (dispute, POST, FILES) -> bound form
    apply: Callable[[Dispute, Actor, dict[str, Any]], object]  # one service call, cleaned data
    done: str  # a gettext_noop message, translated when shown


def add_evidence(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> None:
    """Both case pages' "add evidence for support" form (forms.EvidenceForm), for either side."""
    services.dispute_add_evidence(
        dispute=dispute,
        actor=actor,
        evidence=data["evidence"],
        documents=data["documents"],
        message=data["message"],
    )
