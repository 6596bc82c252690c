"""`flyte.Trigger`, `Cron`, `FixedRate`, `TriggerTime` and `flyte.Secret` as Flyte 2 names them (issue 19)."""

from __future__ import annotations

import datetime as dt

import pytest

import flyte_jupyter as flyte


def test_presets_bind_the_trigger_time_to_the_named_input() -> None:
    for preset, name, expr in ((flyte.Trigger.minutely, "minutely", "* * * * *"),
                               (flyte.Trigger.hourly, "hourly", "0 * * * *"),
                               (flyte.Trigger.daily, "daily", "0 0 * * *"),
                               (flyte.Trigger.weekly, "weekly", "0 0 * * 0"),
                               (flyte.Trigger.monthly, "monthly", "0 0 1 * *")):
        t = preset()
        assert (t.name, t.automation, t.inputs) == (name, flyte.Cron(expr), {"trigger_time": flyte.TriggerTime})
        assert t.auto_activate and t.catch_up and t.trigger_time_input == "trigger_time"
    t = flyte.Trigger.hourly("start", name="h2", inputs={"x": 1}, auto_activate=False)
    assert t.name == "h2" and t.inputs == {"start": flyte.TriggerTime, "x": 1} and not t.auto_activate
    assert flyte.Cron("0 0 * * *").timezone == "UTC"
    assert flyte.Cron("0 0 * * *", timezone="Europe/London").timezone == "Europe/London"
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert flyte.FixedRate(60, start_time=start).start_time == start


def test_bad_triggers_and_secrets_fail_where_they_are_declared() -> None:
    with pytest.raises(TypeError, match="flyte.Cron"):
        flyte.Trigger("x", "0 * * * *")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        flyte.Trigger("", flyte.Cron("* * * * *"))
    with pytest.raises(ValueError, match="one input"):
        flyte.Trigger("x", flyte.Cron("* * * * *"), inputs={"a": flyte.TriggerTime, "b": flyte.TriggerTime})
    with pytest.raises(ValueError, match="secret name"):
        flyte.Secret(key="bad name")
    with pytest.raises(ValueError, match="environment variable"):
        flyte.Secret(key="ok", as_env_var="1X")
    s = flyte.Secret(key="key", group="team")
    assert s.name == "team.key" and s.env_var == "TEAM_KEY"
    assert flyte.Secret(key="tls.cert").env_var == "TLS_CERT"
