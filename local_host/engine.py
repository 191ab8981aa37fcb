"""The orchestration engine: history replay of the real Durable SDK, as the Durable extension does it.

One dispatcher thread runs orchestrator episodes; activities run on a thread pool, or — as with
``FUNCTIONS_WORKER_PROCESS_COUNT`` above 1 — in worker processes (``local_host.workers``), the only way
CPU-bound Python activities of a fan-out run in parallel. Each episode hands the SDK the full history
(old events played, new events not), reads the cumulative actions it replies with, and schedules what
is new. Retries follow DTFx: a failed attempt becomes ``TaskFailed``, then a retry timer, then a new
``TaskScheduled``, each taking the next sequence number; retry-related events are delivered alone in
their episode so the SDK numbers them exactly as the host does.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from local_host.functions import FunctionIndex
from local_host.history import ActionType, EventType, consumes_sequence_number, event, flatten_actions, iso, parse_iso
from local_host.taskhub import InstanceState, RuntimeStatus, TaskHub
from local_host.workers import ActivityFailed, WorkerPool

log = logging.getLogger(__name__)

_OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"


class InstanceAlreadyRunning(RuntimeError):
    """``start_new`` on an instance that is running while only non-running states may be overridden."""


class InstanceNotFound(LookupError):
    """No instance with that id."""


class Clock:
    """Orchestration time. With ``instant_timers`` the clock jumps to a timer's fire time instead of waiting."""

    def __init__(self, instant_timers: bool = False) -> None:
        self.instant_timers = instant_timers
        self._skew = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._skew

    def advance_to(self, moment: datetime) -> None:
        with self._lock:
            real = datetime.now(UTC) + self._skew
            if moment > real:
                self._skew += moment - real


@dataclass
class _Pending:
    """An event waiting for the next episode; ``solo`` events are delivered alone."""

    event: dict[str, Any]
    solo: bool = False
    after_delivery: Callable[[], None] | None = None


@dataclass
class _Retry:
    name: str
    input: str | None
    max_attempts: int
    interval: timedelta
    attempts: int = 1


@dataclass
class _Execution:
    """Runtime bookkeeping for the current execution of one instance (not persisted)."""

    state: InstanceState
    inbox: deque[_Pending] = field(default_factory=deque)
    actions_seen: int = 0
    next_sequence: int = 0
    action_task_ids: list[int | None] = field(default_factory=list)
    retries: dict[int, _Retry] = field(default_factory=dict)
    cancelled_timers: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class EngineOptions:
    """What the Durable extension's host.json settings control, as far as this host honours them."""

    max_concurrent_activities: int = 4
    instant_timers: bool = False
    override_running_instances: bool = False  # host.json overridableExistingInstanceStates = AnyState
    worker_processes: int = 1  # FUNCTIONS_WORKER_PROCESS_COUNT: above 1, activities run in worker processes
    worker_app: str = "function_app:app"  # how a worker process imports the app (module:attribute)


class OrchestrationEngine:
    """Runs orchestration instances of one app to completion."""

    def __init__(self, functions: FunctionIndex, taskhub: TaskHub, options: EngineOptions) -> None:
        self._functions = functions
        self._taskhub = taskhub
        self._options = options
        self.clock = Clock(options.instant_timers)
        self._cond = threading.Condition()
        self._executions: dict[str, _Execution] = {}
        self._timers: list[tuple[datetime, int, str, str, _Pending]] = []
        self._timer_seq = itertools.count()
        self._pool = ThreadPoolExecutor(options.max_concurrent_activities, thread_name_prefix="activity")
        self._workers = (WorkerPool(min(options.worker_processes, options.max_concurrent_activities),
                                    options.worker_app) if options.worker_processes > 1 else None)
        self._stopped = False
        with self._cond:
            for orphan in taskhub.claim():
                reason = ("the local host stopped while this instance ran; it cannot resume it (Azure's host "
                          "resumes from its queues), so it is recorded as terminated")
                orphan.history.append(event(EventType.EXECUTION_TERMINATED, self.clock.now(), Input=reason))
                self._finish(orphan, RuntimeStatus.TERMINATED, reason)
        self._dispatcher = threading.Thread(target=self._dispatch_forever, name="orchestrator", daemon=True)
        self._dispatcher.start()

    # -- client operations ------------------------------------------------------------------------

    def start_new(self, name: str, instance_id: str | None, input_json: str | None) -> InstanceState:
        """Create (or, when allowed, replace) an instance and queue its ``ExecutionStarted``."""
        if name not in self._functions.of_type("orchestrationTrigger"):
            raise LookupError(f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function.")
        instance_id = instance_id or uuid.uuid4().hex
        with self._cond:
            existing = self._taskhub.get(instance_id)
            if (existing is not None and not existing.runtime_status.is_terminal
                    and not self._options.override_running_instances):
                raise InstanceAlreadyRunning(
                    f"An Orchestration instance with the status {existing.runtime_status} already exists.")
            now = iso(self.clock.now())
            state = InstanceState(instance_id=instance_id, name=name, input=input_json,
                                  created_time=now, last_updated_time=now)
            self._begin_execution(state, input_json)
            self._cond.notify_all()
            return state

    def raise_event(self, instance_id: str, event_name: str, data_json: str | None) -> None:
        with self._cond:
            execution = self._live(instance_id)
            execution.inbox.append(_Pending(event(EventType.EVENT_RAISED, self.clock.now(),
                                                  Name=event_name, Input=data_json)))
            self._cond.notify_all()

    def terminate(self, instance_id: str, reason: str) -> None:
        with self._cond:
            execution = self._live(instance_id)
            state = execution.state
            state.history.append(event(EventType.EXECUTION_TERMINATED, self.clock.now(), Input=reason))
            self._finish(state, RuntimeStatus.TERMINATED, reason)

    def wait(self, instance_id: str, timeout: float | None = None) -> InstanceState:
        """Block until the instance reaches a terminal state (or the timeout passes)."""
        deadline = None if timeout is None else self.clock.now() + timedelta(seconds=timeout)
        with self._cond:
            while True:
                state = self._taskhub.get(instance_id)
                if state is None:
                    raise InstanceNotFound(instance_id)
                if state.runtime_status.is_terminal:
                    return state
                remaining = None if deadline is None else (deadline - self.clock.now()).total_seconds()
                if remaining is not None and remaining <= 0:
                    return state
                self._cond.wait(timeout=min(remaining, 0.5) if remaining is not None else 0.5)

    def start_workers(self) -> int:
        """Start every worker process now (``WorkerPool.start_all``); returns how many are ready (0: the
        activities run in the host process)."""
        return self._workers.start_all() if self._workers is not None else 0

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._dispatcher.join(timeout=30)
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._workers is not None:
            self._workers.shutdown()
        self._taskhub.release()

    # -- internals ---------------------------------------------------------------------------------

    def _live(self, instance_id: str) -> _Execution:
        execution = self._executions.get(instance_id)
        if execution is None:
            raise InstanceNotFound(instance_id)
        return execution

    def _begin_execution(self, state: InstanceState, input_json: str | None) -> None:
        state.execution_id = uuid.uuid4().hex
        state.history = []
        state.input = input_json
        execution = _Execution(state)
        execution.inbox.append(_Pending(event(
            EventType.EXECUTION_STARTED, self.clock.now(), Name=state.name, Version="", Input=input_json,
            OrchestrationInstance={"InstanceId": state.instance_id, "ExecutionId": state.execution_id})))
        self._executions[state.instance_id] = execution
        self._taskhub.put(state)

    def _dispatch_forever(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                self._release_due_timers()
                ready = [e for e in self._executions.values() if e.inbox]
                if not ready:
                    self._cond.wait(timeout=self._seconds_to_next_timer())
                    continue
            for execution in ready:
                try:
                    self._run_episode(execution)
                except Exception:  # a host bug must not kill the dispatcher; fail the instance
                    log.exception("episode failed for %s", execution.state.instance_id)
                    with self._cond:
                        self._finish(execution.state, RuntimeStatus.FAILED, traceback.format_exc())

    def _seconds_to_next_timer(self) -> float:
        if not self._timers:
            return 0.5
        if self.clock.instant_timers:
            return 0.0
        return max(0.0, min(0.5, (self._timers[0][0] - self.clock.now()).total_seconds()))

    def _release_due_timers(self) -> None:
        while self._timers and (self.clock.instant_timers or self._timers[0][0] <= self.clock.now()):
            fire_at, _, instance_id, execution_id, pending = heapq.heappop(self._timers)
            execution = self._executions.get(instance_id)
            if execution is None or execution.state.execution_id != execution_id:
                continue
            if pending.event.get("TimerId") in execution.cancelled_timers:
                continue
            self.clock.advance_to(fire_at)
            execution.inbox.append(pending)

    def _take_batch(self, execution: _Execution) -> list[_Pending]:
        with self._cond:
            if execution.inbox[0].solo:
                return [execution.inbox.popleft()]
            batch = []
            while execution.inbox and not execution.inbox[0].solo:
                batch.append(execution.inbox.popleft())
            return batch

    def _run_episode(self, execution: _Execution) -> None:
        state = execution.state
        if state.runtime_status.is_terminal:
            execution.inbox.clear()
            return
        batch = self._take_batch(execution)
        started = event(EventType.ORCHESTRATOR_STARTED, self.clock.now())
        new_events = [started] + [p.event for p in batch]
        context = {
            "history": [{**e, "IsPlayed": True} for e in state.history] + new_events,
            "input": state.input,
            "instanceId": state.instance_id,
            "isReplaying": False,
            "parentInstanceId": None,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "maximumShortTimerDuration": "6.00:00:00",
            "longRunningTimerIntervalDuration": "3.00:00:00",
        }
        reply, error = self._call_orchestrator(state.name, json.dumps(context))
        state.history.extend(new_events)
        state.episodes += 1
        with self._cond:
            if state.runtime_status == RuntimeStatus.PENDING:
                state.runtime_status = RuntimeStatus.RUNNING
            for pending in batch:
                if pending.after_delivery is not None:
                    pending.after_delivery()
            if reply is not None and "customStatus" in reply:
                state.custom_status = reply.get("customStatus")
            if error is not None:
                state.history.append(event(EventType.ORCHESTRATOR_COMPLETED, self.clock.now()))
                self._finish(state, RuntimeStatus.FAILED, f"Orchestrator function '{state.name}' failed: {error}")
                return
            assert reply is not None
            continue_input = self._schedule_new_actions(execution, reply.get("actions") or [])
            state.history.append(event(EventType.ORCHESTRATOR_COMPLETED, self.clock.now()))
            if reply.get("isDone"):
                if continue_input is not None:
                    state.last_updated_time = iso(self.clock.now())
                    self._begin_execution(state, continue_input)
                else:
                    self._finish(state, RuntimeStatus.COMPLETED, reply.get("output"))
                return
            state.last_updated_time = iso(self.clock.now())
            self._taskhub.save(state)

    def _call_orchestrator(self, name: str, context_json: str) -> tuple[dict[str, Any] | None, str | None]:
        try:
            return json.loads(self._functions.run_orchestrator(name, context_json)), None
        except Exception as exc:  # noqa: BLE001 - the SDK raises with the state appended after a marker
            message = str(exc)
            if _OUT_OF_PROC_MARKER in message:
                head, _, state_json = message.partition(_OUT_OF_PROC_MARKER)
                try:
                    reply = json.loads(state_json)
                    return reply, reply.get("error") or head
                except json.JSONDecodeError:
                    return None, head
            return None, f"{type(exc).__name__}: {message}"

    def _schedule_new_actions(self, execution: _Execution, actions: list[list[dict[str, Any]]]) -> str | None:
        """Schedule the actions this reply added; returns a continue-as-new input if one was asked for."""
        leaves = flatten_actions(actions)
        for index, action in enumerate(leaves[: execution.actions_seen]):
            task_id = execution.action_task_ids[index]
            if action.get("actionType") == ActionType.CREATE_TIMER and action.get("isCanceled") and task_id is not None:
                execution.cancelled_timers.add(task_id)
        continue_input: str | None = None
        for action in leaves[execution.actions_seen:]:
            task_id = None
            if consumes_sequence_number(action):
                task_id = execution.next_sequence
                execution.next_sequence += 1
            execution.action_task_ids.append(task_id)
            kind = action.get("actionType")
            if kind in (ActionType.CALL_ACTIVITY, ActionType.CALL_ACTIVITY_WITH_RETRY):
                retry = None
                if kind == ActionType.CALL_ACTIVITY_WITH_RETRY:
                    options = action.get("retryOptions") or {}
                    retry = _Retry(action["functionName"], action.get("input"),
                                   int(options.get("maxNumberOfAttempts", 1)),
                                   timedelta(milliseconds=int(options.get("firstRetryIntervalInMilliseconds", 1000))))
                assert task_id is not None
                self._schedule_activity(execution, task_id, action["functionName"], action.get("input"), retry)
            elif kind == ActionType.CREATE_TIMER:
                assert task_id is not None
                fire_at = parse_iso(action["fireAt"])
                execution.state.history.append(event(EventType.TIMER_CREATED, self.clock.now(), task_id,
                                                     FireAt=iso(fire_at)))
                self._add_timer(execution, fire_at, _Pending(event(EventType.TIMER_FIRED, fire_at,
                                                                   TimerId=task_id, FireAt=iso(fire_at))))
            elif kind == ActionType.WAIT_FOR_EXTERNAL_EVENT:
                pass  # raised events are appended to the inbox whenever they arrive
            elif kind == ActionType.CONTINUE_AS_NEW:
                continue_input = action.get("input")
            else:
                raise NotImplementedError(f"action type {kind} is not supported by the local host")
        execution.actions_seen = len(leaves)
        return continue_input

    def _add_timer(self, execution: _Execution, fire_at: datetime, pending: _Pending) -> None:
        heapq.heappush(self._timers, (fire_at, next(self._timer_seq), execution.state.instance_id,
                                      execution.state.execution_id, pending))
        self._cond.notify_all()

    def _schedule_activity(self, execution: _Execution, task_id: int, name: str, input_json: str | None,
                           retry: _Retry | None) -> None:
        execution.state.history.append(event(EventType.TASK_SCHEDULED, self.clock.now(), task_id,
                                             Name=name, Version="", Input=input_json))
        if retry is not None:
            execution.retries[task_id] = retry
        future = (self._workers.submit(name, input_json) if self._workers is not None
                  else self._pool.submit(self._functions.run_activity, name, input_json))
        execution_id = execution.state.execution_id
        future.add_done_callback(lambda f: self._on_activity_done(execution, execution_id, task_id, f))

    def _on_activity_done(self, execution: _Execution, execution_id: str, task_id: int, future: Future[str]) -> None:
        with self._cond:
            if execution.state.execution_id != execution_id or execution.state.runtime_status.is_terminal:
                return
            error = future.exception()
            now = self.clock.now()
            if error is None:
                execution.inbox.append(_Pending(event(EventType.TASK_COMPLETED, now, TaskScheduledId=task_id,
                                                      Result=future.result())))
            else:
                details = (error.details if isinstance(error, ActivityFailed)
                           else "".join(traceback.format_exception(error)))
                failed = event(EventType.TASK_FAILED, now, TaskScheduledId=task_id, Reason=str(error), Details=details)
                retry = execution.retries.get(task_id)
                if retry is None:
                    execution.inbox.append(_Pending(failed))
                else:
                    execution.inbox.append(_Pending(failed, solo=True,
                                                    after_delivery=lambda: self._start_retry_timer(execution, retry)))
            self._cond.notify_all()

    def _start_retry_timer(self, execution: _Execution, retry: _Retry) -> None:
        """After a failed attempt was delivered, the SDK took the next sequence number for a timer."""
        timer_id = execution.next_sequence
        execution.next_sequence += 1
        fire_at = self.clock.now() + retry.interval
        execution.state.history.append(event(EventType.TIMER_CREATED, self.clock.now(), timer_id, FireAt=iso(fire_at)))
        fired = event(EventType.TIMER_FIRED, fire_at, TimerId=timer_id, FireAt=iso(fire_at))
        self._add_timer(execution, fire_at, _Pending(fired, solo=True,
                                                     after_delivery=lambda: self._reschedule(execution, retry)))

    def _reschedule(self, execution: _Execution, retry: _Retry) -> None:
        """After the retry timer fired: the SDK re-schedules unless the attempts are used up."""
        if retry.attempts >= retry.max_attempts:
            return
        retry.attempts += 1
        task_id = execution.next_sequence
        execution.next_sequence += 1
        self._schedule_activity(execution, task_id, retry.name, retry.input, retry)

    def _finish(self, state: InstanceState, status: RuntimeStatus, output: Any) -> None:
        state.runtime_status = status
        state.output = output
        state.last_updated_time = iso(self.clock.now())
        self._executions.pop(state.instance_id, None)
        self._taskhub.save(state)
        self._cond.notify_all()
