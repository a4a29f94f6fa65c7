"""Who is acting: passed to every service so the timeline says who did what."""

from __future__ import annotations

from dataclasses import dataclass

from .choices import ActorKind


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str = ""
    user_id: int | None = None
    merchant_id: int | None = None

    @classmethod
    def customer(cls, email: str) -> Actor:
        return cls(ActorKind.CUSTOMER, id=email.lower())

    @classmethod
    def merchant_user(cls, *, user_id: int, merchant_id: int) -> Actor:
        return cls(ActorKind.MERCHANT, id=str(user_id), user_id=user_id, merchant_id=merchant_id)

    @classmethod
    def staff(cls, *, user_id: int) -> Actor:
        return cls(ActorKind.STAFF, id=str(user_id), user_id=user_id)


SYSTEM = Actor(ActorKind.SYSTEM, id="system")


def staff_id(actor: Actor) -> int:
    """The support member's user id, for records only staff make (holds, data requests)."""
    if actor.kind != ActorKind.STAFF or actor.user_id is None:
        raise ValueError("Only a support member can do this.")
    return actor.user_id
