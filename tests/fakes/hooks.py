"""Interleaving hooks: run a step of another actor at a chosen point of a fake's method.

The fakes call `fire("before:certificates.save", ...)` and `fire("after:...", ...)` around every
method. A test registers an action for one of those points; it runs inline, once by default,
so the actor that reached the point is paused there until the other actor's work is done.
No threads: every interleaving is scripted and repeatable.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Action = Callable[..., None]


@dataclass
class _Hook:
    action: Action
    times: int
    when: Callable[..., bool]


@dataclass
class Hooks:
    _hooks: dict[str, list[_Hook]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)  # every point reached, in order

    def on(self, point: str, action: Action, *, times: int = 1, when: Callable[..., bool] = lambda *a: True) -> None:
        """Run `action(*args)` the next `times` times `point` is reached with `when(*args)` true."""
        self._hooks.setdefault(point, []).append(_Hook(action, times, when))

    def fire(self, point: str, *args: Any) -> None:
        self.calls.append(point)
        for hook in list(self._hooks.get(point, [])):
            if hook.times > 0 and hook.when(*args):
                hook.times -= 1  # before running, so a nested call of the same point passes
                hook.action(*args)

    def count(self, point: str) -> int:
        return self.calls.count(point)
