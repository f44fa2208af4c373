"""What create POSTs (POST .../Messages.json) do: planned misbehaviour per test, and a
record of what each one did."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

#: What a create POST (POST .../Messages.json) can do; see CreatePlan.
CREATE_BEHAVIOURS = ("ok", "429", "twice", "slow", "500_created", "drop", "drop_created")


@dataclass
class CreateRule:
    """A create behaviour for the create POSTs whose form ``when`` accepts.

    ``times`` is how many POSTs it still applies to (None: every one). ``gap`` (for
    "twice": seconds between the two records' creation, 0 for the same second) and
    ``slow_seconds`` override the plan's defaults.
    """

    behaviour: str
    when: Callable[[Mapping[str, str]], bool] | None = None
    times: int | None = 1
    gap: float | None = None
    slow_seconds: float | None = None


@dataclass
class CreatePlan:
    """What each create POST does. Test-only behaviours, in ``CREATE_BEHAVIOURS``:

    - ``"ok"``: one record, 201 (the default);
    - ``"429"``: 429 with error 20429 and ``Retry-After``; nothing is created (as any 4xx);
    - ``"twice"``: a Twilio-side fault: two records with the same To/Body for one POST, the
      second ``gap`` seconds later (0: the same second); the 201 carries the first SID;
    - ``"slow"``: the record is created, then the answer waits ``slow_seconds`` (longer than
      the client's timeout, so it gives up; the server notices and stops waiting);
    - ``"500_created"``: the record is created but the answer is a 500;
    - ``"drop"`` / ``"drop_created"``: the connection is closed without an answer, nothing
      created / one record created.

    The first rule in ``rules`` whose ``when`` accepts the form (and has ``times`` left)
    decides; otherwise ``schedule`` by the 1-based number of the create POST; otherwise ok.
    Create POSTs are counted after authentication, before validation.
    """

    schedule: dict[int, str] = field(default_factory=dict)
    rules: list[CreateRule] = field(default_factory=list)
    twice_gap: float = 1.0
    slow_seconds: float = 5.0
    retry_after: str = "1"

    def __post_init__(self) -> None:
        for behaviour in [*self.schedule.values(), *(r.behaviour for r in self.rules)]:
            _check_behaviour(behaviour)
        self._count = 0
        self._lock = threading.Lock()

    def add(
        self,
        behaviour: str,
        *,
        to: str | None = None,
        when: Callable[[Mapping[str, str]], bool] | None = None,
        times: int | None = 1,
        gap: float | None = None,
        slow_seconds: float | None = None,
    ) -> CreateRule:
        """Plan ``behaviour`` for the next ``times`` create POSTs to ``to`` / matching ``when``."""
        _check_behaviour(behaviour)

        def test(form: Mapping[str, str]) -> bool:
            return (to is None or form.get("To") == to) and (when is None or when(form))

        rule = CreateRule(behaviour, test, times, gap, slow_seconds)
        with self._lock:
            self.rules.append(rule)
        return rule

    def pick(self, form: Mapping[str, str]) -> tuple[int, str, float, float]:
        """Count one create POST: its number, behaviour, twice gap and slow seconds."""
        with self._lock:
            self._count += 1
            for rule in self.rules:
                if rule.times is not None and rule.times <= 0:
                    continue
                if rule.when is None or rule.when(form):
                    if rule.times is not None:
                        rule.times -= 1
                    return (
                        self._count,
                        rule.behaviour,
                        self.twice_gap if rule.gap is None else rule.gap,
                        self.slow_seconds if rule.slow_seconds is None else rule.slow_seconds,
                    )
            behaviour = self.schedule.get(self._count, "ok")
            return self._count, behaviour, self.twice_gap, self.slow_seconds

    def pending(self) -> list[CreateRule]:
        """Rules that were planned for a number of POSTs and are not used up."""
        with self._lock:
            return [r for r in self.rules if r.times is not None and r.times > 0]


def _check_behaviour(behaviour: str) -> None:
    if behaviour not in CREATE_BEHAVIOURS:
        raise ValueError(f"unknown create behaviour {behaviour!r}: expected {CREATE_BEHAVIOURS}")


@dataclass
class CreateResult:
    """What one create POST did: its number, behaviour, the records it made and the answer.

    ``status`` is the status the server answered (None when it answered nothing);
    ``client_gone`` is True when a "slow" answer found the client had given up.
    """

    n: int
    behaviour: str
    to: str | None
    body: str | None
    sids: list[str]
    status: int | None
    request_id: str | None
    at: float
    client_gone: bool = False

