"""An agent's desired-state watch: the whole state is fetched only when the revision moved (or
on refresh/resync), and an API without the revision long-poll is polled without spinning."""

from __future__ import annotations

from sriovstack.agents.watch import DesiredStateWatch
from sriovstack.errors import NotFound
from sriovstack.wire import DesiredState, HostRevision


class FakeApi:
    """The two internal API calls a watch makes, over a revision the test moves."""

    def __init__(self, *, has_watch: bool = True, holds: bool = True) -> None:
        self.revision = 1
        self.has_watch = has_watch
        self.holds = holds  # an older API that ignores ``wait`` answers at once
        self.fetches: list[tuple[int | None, float]] = []
        self.watches = 0
        self.now = 0.0

    def desired_state(self, host: str, since: int | None = None,
                      wait: float = 0.0) -> DesiredState:
        self.fetches.append((since, wait))
        if since is not None and self.holds and self.revision <= since:
            self.now += wait
        return DesiredState(host, self.revision, ())

    def watch_revision(self, host: str, since: int, wait: float) -> HostRevision:
        if not self.has_watch:
            raise NotFound("404 Not Found", status=404)
        self.watches += 1
        if self.revision <= since:
            self.now += wait
        return HostRevision(host, self.revision)


def _watch(api: FakeApi, slept: list[float], resync: float = 300.0) -> DesiredStateWatch:
    def sleep(seconds: float) -> None:
        slept.append(seconds)
        api.now += seconds
    return DesiredStateWatch(api, "compute-1", resync=resync,  # type: ignore[arg-type]
                             sleep=sleep, clock=lambda: api.now)


def test_a_quiet_host_costs_one_revision_poll_per_wait_and_no_fetch() -> None:
    api, slept = FakeApi(), []
    watch = _watch(api, slept)
    assert watch.next(10.0).revision == 1  # the first call always fetches
    for _ in range(3):
        assert watch.next(10.0).revision == 1
    assert (len(api.fetches), api.watches, slept) == (1, 3, [])
    api.revision = 2
    assert watch.next(10.0).revision == 2
    assert len(api.fetches) == 2


def test_refresh_and_resync_fetch_without_a_revision_change() -> None:
    api, slept = FakeApi(), []
    watch = _watch(api, slept, resync=25.0)
    watch.next(10.0)
    watch.refresh()
    watch.next(10.0)
    assert len(api.fetches) == 2
    watch.next(10.0)  # 10 s since the fetch
    assert len(api.fetches) == 2
    watch.next(10.0)  # 20 s
    watch.next(10.0)  # 30 s: past the resync interval
    assert len(api.fetches) == 3
    assert watch.next(0.0) is not None and len(api.fetches) == 4  # wait 0 always fetches


def test_an_api_without_the_long_poll_is_polled_and_never_spun() -> None:
    api, slept = FakeApi(has_watch=False, holds=False), []
    watch = _watch(api, slept)
    watch.next(5.0)
    watch.next(5.0)
    assert not watch.watching
    assert api.fetches[-1] == (1, 5.0)  # the desired-state long-poll of older releases
    assert slept == [5.0]  # it answered at once with nothing new: the agent waits it out
    api.revision = 2
    assert watch.next(5.0).revision == 2 and slept == [5.0]  # news: no sleep


def test_an_older_api_that_holds_the_desired_state_poll_is_not_slept_on() -> None:
    api, slept = FakeApi(has_watch=False, holds=True), []
    watch = _watch(api, slept)
    watch.next(5.0)
    watch.next(5.0)
    assert slept == [] and api.now == 5.0

