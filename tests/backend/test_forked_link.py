"""A forked attempt's nested calls go over a link it asks for on the report socket (no gRPC), with
the authority of its own action and no more; descriptors that are not a link request are closed;
a link that breaks falls back to gRPC (`test_worker_link.py`, with the warm worker's)."""

from __future__ import annotations

from flows import linked

import flyte_jupyter as flyte


def test_a_forked_parents_children_go_over_its_link_not_grpc(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    remote = flyte.with_runcontext(mode="remote")
    is_linked, results, channels, pid = remote.run(linked.forked_fan, n=20).outputs()
    again = remote.run(linked.forked_fan, n=3).outputs()
    assert results == [i + 1 for i in range(20)] and again[1] == [1, 2, 3]
    assert is_linked and again[0], "the forked parent had no open link after its calls"
    assert channels == 0 and again[2] == 0, "the forked parent opened a gRPC channel for its children"
    assert pid != again[3], "not forked: both parents ran in one process"


def test_a_forked_attempt_acts_over_its_link_only_for_its_own_action(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    remote = flyte.with_runcontext(mode="remote")
    other = remote.run(linked.plus_one, i=0)
    other.wait()
    answers = remote.run(linked.calls_forked_intruder, other_run=other.name).outputs()
    assert answers == ["PERMISSION_DENIED", "PERMISSION_DENIED", "PERMISSION_DENIED", "synced",
                       "INVALID_ARGUMENT", "synced"]
    assert other.actions.keys() == {"a0"}  # nothing was added to the other run


def test_descriptors_that_are_no_link_request_are_closed_and_a_stranger_is_not_served(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    """A pipe sent as a link, two descriptors with another message: the backend lets go of them
    at once. A link asked for by a process the backend did not start (a fork of an attempt, so its
    pid is no attempt's): never answered."""
    outcome = flyte.with_runcontext(mode="remote").run(linked.stray_descriptors).outputs()
    assert outcome == ["closed", "closed", "closed", "held"], outcome
    log = (flyte_backend.data_dir / "backend-test.log").read_text(errors="replace")
    assert "not a link request; closed" in log
