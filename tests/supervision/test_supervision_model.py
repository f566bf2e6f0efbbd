"""Random crashes, returns, shutdowns, terminations and restarts, checked against a small pure OTP model.

The model is written from OTP's ``supervisor.erl`` rules alone (restart type, then one supervisor-wide
intensity window, then the strategy), and knows nothing of Trio. Each example drives a real supervisor
under a mock clock one step at a time and compares the exact start/stop log and the children's states.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from supervision_helpers import Box

from supervision import ChildState, Restart, Strategy, SupervisorEscalation, open_supervisor

END_ACTIONS = ("crash", "return", "shutdown")


@dataclass
class ModelChild:
    id: str
    restart: Restart
    running: bool = True


@dataclass
class OtpModel:
    children: list[ModelChild]
    strategy: Strategy
    intensity: int
    period: float
    stamps: list[float] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)
    escalated: bool = False

    def find(self, child_id: str) -> ModelChild | None:
        return next((child for child in self.children if child.id == child_id), None)

    def end(self, child: ModelChild, action: str, now: float) -> None:
        child.running = False
        wanted = child.restart is Restart.PERMANENT or (child.restart is Restart.TRANSIENT and action == "crash")
        if wanted:
            self.restart(child, now)
        elif child.restart is Restart.TEMPORARY:
            self.children.remove(child)

    def restart(self, child: ModelChild, now: float) -> None:
        self.stamps = [stamp for stamp in self.stamps if stamp >= now - self.period] + [now]
        if len(self.stamps) > self.intensity:
            self.escalated = True
            self.stop(self.children)
            return
        if self.strategy is Strategy.ONE_FOR_ONE:
            targets = [child]
        elif self.strategy is Strategy.ONE_FOR_ALL:
            targets = list(self.children)
        else:
            targets = self.children[self.children.index(child) :]
        self.stop(targets)
        for target in targets:
            if target.restart is Restart.TEMPORARY and target is not child:
                self.children.remove(target)
        for target in targets:
            if target in self.children:
                self.log.append(("start", target.id))
                target.running = True

    def stop(self, children: list[ModelChild]) -> None:
        for child in reversed(children):
            if child.running:
                self.log.append(("stop", child.id))
                child.running = False

    def terminate(self, child: ModelChild) -> None:
        self.stop([child])
        if child.restart is Restart.TEMPORARY:
            self.children.remove(child)

    def take(self) -> list[tuple[str, str]]:
        log, self.log = self.log, []
        return log


child_ids = ("a", "b", "c", "d")
step = st.one_of(
    st.tuples(st.just("end"), st.sampled_from(child_ids), st.sampled_from(END_ACTIONS)),
    st.tuples(st.just("terminate"), st.sampled_from(child_ids), st.just("")),
    st.tuples(st.just("restart_child"), st.sampled_from(child_ids), st.just("")),
    st.tuples(st.just("sleep"), st.sampled_from(["1", "3", "6"]), st.just("")),
)


@settings(max_examples=60)
@given(
    restarts=st.lists(st.sampled_from(list(Restart)), min_size=2, max_size=4),
    strategy=st.sampled_from(list(Strategy)),
    intensity=st.integers(min_value=0, max_value=3),
    period=st.sampled_from([2.0, 5.0, 10.0]),
    steps=st.lists(step, max_size=25),
)
def test_supervisor_matches_the_otp_model_under_random_exits(
    restarts: list[Restart], strategy: Strategy, intensity: int, period: float, steps: list[tuple[str, str, str]]
) -> None:
    trio.run(
        run_scenario,
        restarts,
        strategy,
        intensity,
        period,
        steps,
        clock=trio.testing.MockClock(autojump_threshold=0),
    )


async def run_scenario(
    restarts: list[Restart], strategy: Strategy, intensity: int, period: float, steps: list[tuple[str, str, str]]
) -> None:
    box = Box()
    ids = child_ids[: len(restarts)]
    model = OtpModel([ModelChild(i, r) for i, r in zip(ids, restarts, strict=True)], strategy, intensity, period)
    model.log = [("start", i) for i in ids]
    escalated = False
    try:
        async with open_supervisor(
            [box.spec(i, restart=r) for i, r in zip(ids, restarts, strict=True)],
            strategy=strategy,
            intensity=intensity,
            period=period,
        ) as sup:
            for kind, target, action in steps:
                child = model.find(target)
                if kind == "sleep":
                    await trio.sleep(float(target))
                elif kind == "end" and child is not None and child.running:
                    model.end(child, action, trio.current_time())
                    await box.tell(target, action)
                elif kind == "terminate" and child is not None:
                    model.terminate(child)
                    await sup.terminate_child(target)
                elif kind == "restart_child" and child is not None and not child.running:
                    model.log.append(("start", target))
                    child.running = True
                    await sup.restart_child(target)
                assert box.take() == model.take()
                actual = [(info.id, info.state is ChildState.RUNNING) for info in sup.which_children()]
                assert actual == [(c.id, c.running) for c in model.children]
            model.stop(model.children)
    except SupervisorEscalation:
        escalated = True
    assert escalated == model.escalated
    assert box.take() == model.take()
