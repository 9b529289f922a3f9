"""OSCP message expectations (design §3 OscpMessageExpectation, §5, §10 "Close any expectation
that requires an online session").

An expectation watches the messages the FP sends to one session during a window of logical
time, [window_start_at, deadline_at]:

- `receive`: met by the first matching message; violated if none arrives by the deadline.
- `not_receive`: violated by the first matching message; met if none arrives by the deadline.
- Either, when `requires_online`, expires if the session goes offline while it is pending.

A message matches when its type matches, it arrived inside the window, its X-Correlation-ID
equals the expected one (when one is set: "a GroupCapacityComplianceError correlated to
forecast F") and its outcome equals the required one (when set). Resolution is final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Polarity(StrEnum):
    RECEIVE = "receive"
    NOT_RECEIVE = "not_receive"


class ExpectationStatus(StrEnum):
    PENDING = "pending"
    MET = "met"
    VIOLATED = "violated"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Expectation:
    id: str
    polarity: Polarity
    message_type: str
    correlation_id: str | None
    required_outcome: str | None
    requires_online: bool
    window_start_at: datetime
    deadline_at: datetime
    status: ExpectationStatus


@dataclass(frozen=True)
class ObservedMessage:
    ledger_entry_id: str
    message_type: str
    correlation_id: str | None
    outcome: str
    logical_at: datetime


@dataclass(frozen=True)
class Resolution:
    status: ExpectationStatus
    reason: str
    at: datetime
    ledger_entry_id: str | None = None


def matches(expectation: Expectation, message: ObservedMessage) -> bool:
    return (
        message.message_type == expectation.message_type
        and expectation.window_start_at <= message.logical_at <= expectation.deadline_at
        and (
            expectation.correlation_id is None
            or message.correlation_id == expectation.correlation_id
        )
        and (
            expectation.required_outcome is None or message.outcome == expectation.required_outcome
        )
    )


def on_message(expectation: Expectation, message: ObservedMessage) -> Resolution | None:
    """The resolution one inbound message causes, if any."""
    if expectation.status is not ExpectationStatus.PENDING or not matches(expectation, message):
        return None
    if expectation.polarity is Polarity.RECEIVE:
        return Resolution(
            ExpectationStatus.MET,
            f"{message.message_type} received ({message.outcome})",
            message.logical_at,
            message.ledger_entry_id,
        )
    return Resolution(
        ExpectationStatus.VIOLATED,
        f"{message.message_type} received although none was expected ({message.outcome})",
        message.logical_at,
        message.ledger_entry_id,
    )


def on_time(expectation: Expectation, now: datetime) -> Resolution | None:
    """The resolution the passing of the deadline causes, if any."""
    if expectation.status is not ExpectationStatus.PENDING or now < expectation.deadline_at:
        return None
    if expectation.polarity is Polarity.RECEIVE:
        return Resolution(
            ExpectationStatus.VIOLATED,
            f"no matching {expectation.message_type} arrived by the deadline",
            expectation.deadline_at,
        )
    return Resolution(
        ExpectationStatus.MET,
        f"no {expectation.message_type} arrived during the window",
        expectation.deadline_at,
    )


def on_session_offline(expectation: Expectation, now: datetime, why: str) -> Resolution | None:
    """Close a pending expectation that needs an online session."""
    if expectation.status is not ExpectationStatus.PENDING or not expectation.requires_online:
        return None
    return Resolution(ExpectationStatus.EXPIRED, f"session went offline: {why}", now)
