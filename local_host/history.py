"""Durable Task history events in the JSON shape the Durable extension hands to out-of-process SDKs.

Measured rules (see the project notes): ``EventType`` is the integer ``HistoryEventType``; every event
carries ``IsPlayed``; ``Input``/``Result`` are JSON *strings*; timestamps are tz-aware ISO strings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Any


class EventType(IntEnum):
    """The subset of DTFx ``HistoryEventType`` values this host produces."""

    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_TERMINATED = 2
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16


class ActionType(IntEnum):
    """``actionType`` values in an orchestrator reply."""

    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
    CONTINUE_AS_NEW = 4
    CREATE_TIMER = 5
    WAIT_FOR_EXTERNAL_EVENT = 6
    CALL_ENTITY = 7
    CALL_HTTP = 8
    SIGNAL_ENTITY = 9
    WHEN_ANY = 11
    WHEN_ALL = 12


def iso(moment: datetime) -> str:
    """Format a tz-aware datetime the way the extension does (naive timestamps break the SDK)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """Parse an ISO timestamp (``Z`` or offset) into a tz-aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def event(kind: EventType, at: datetime, event_id: int = -1, **fields: Any) -> dict[str, Any]:
    """One history event; ``IsPlayed`` starts false and is set when the event is replayed."""
    return {"EventType": int(kind), "EventId": event_id, "IsPlayed": False, "Timestamp": iso(at), **fields}


def flatten_actions(actions: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Leaf actions in the order the SDK numbers them (compound actions depth-first)."""
    leaves: list[dict[str, Any]] = []

    def visit(action: dict[str, Any]) -> None:
        if action.get("actionType") in (ActionType.WHEN_ALL, ActionType.WHEN_ANY):
            for child in action.get("compoundActions", []):
                visit(child)
        else:
            leaves.append(action)

    for group in actions:
        for action in group:
            visit(action)
    return leaves


def consumes_sequence_number(action: dict[str, Any]) -> bool:
    """Whether the SDK gives this action's task a sequence number (external events use their name)."""
    return action.get("actionType") != ActionType.WAIT_FOR_EXTERNAL_EVENT
