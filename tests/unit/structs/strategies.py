"""Hypothesis strategies for valid jobs: every job drawn here must pass ``validate_job``.

The draw follows the rules a job must keep (unique names, ports a service can use, policies
whose durations fit, blocks only the job type allows), so a diagnostic on a drawn job is a bug
in the validator, or a rule these strategies forgot.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from cluster import structs

S = 1_000_000_000
M = 60 * S

NAMES = st.from_regex(r"[a-z][a-z0-9\-]{0,10}[a-z0-9]", fullmatch=True)
LABELS = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
TEXT = st.text(max_size=12)
STRING_MAPS = st.dictionaries(st.text(min_size=1, max_size=8), TEXT, max_size=3)
DURATIONS = st.integers(min_value=1, max_value=3600).map(lambda s: s * S)
CRONS = st.sampled_from(["*/5 * * * *", "0 3 * * *", "30 12 * * MON-FRI", "@daily", "0 0 1 1 * 2030", "15 */2 1-15 * ?"])
TIME_ZONES = st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"])
CONSTRAINTS = st.sampled_from([
    structs.Constraint(LTarget="${attr.kernel.name}", RTarget="linux", Operand="="),
    structs.Constraint(LTarget="${attr.cpu.numcores}", RTarget="4", Operand=">="),
    structs.Constraint(LTarget="${attr.os.version}", RTarget=r"^2[24]\.04", Operand="regexp"),
    structs.Constraint(LTarget="${attr.driver.docker.version}", RTarget=">= 20.10, < 30", Operand="version"),
    structs.Constraint(LTarget="${attr.nomad.version}", RTarget="~> 1.8", Operand="semver"),
    structs.Constraint(LTarget="${meta.rack}", Operand="is_set"),
    structs.Constraint(LTarget="${meta.tags}", RTarget="ssd,10g", Operand="set_contains_all"),
    structs.Constraint(LTarget="${node.class}", RTarget="spot"),  # the operator defaults to "="
])
GROUP_ONLY_CONSTRAINTS = st.sampled_from([
    structs.Constraint(Operand="distinct_hosts", RTarget="true"),
    structs.Constraint(LTarget="${meta.rack}", RTarget="2", Operand="distinct_property"),
])


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@st.composite
def affinities(draw: st.DrawFn) -> structs.Affinity:
    weight = draw(st.integers(-100, 100).filter(lambda w: w != 0) | st.none())
    operator = draw(st.sampled_from(["", "=", "!=", "set_contains_any", "regexp"]))
    return structs.Affinity(LTarget="${node.class}", RTarget="fast|big", Operand=operator, Weight=weight)


@st.composite
def spreads(draw: st.DrawFn) -> structs.Spread:
    values = draw(st.lists(NAMES, unique=True, max_size=3))
    targets = []
    budget = 100
    for value in values:
        percent = draw(st.integers(0, budget))
        budget -= percent
        targets.append(structs.SpreadTarget(Value=value, Percent=percent))
    return structs.Spread(Attribute="${node.datacenter}", Weight=draw(_optional(st.integers(1, 100))), SpreadTarget=targets or None)


@st.composite
def restart_policies(draw: st.DrawFn) -> structs.RestartPolicy:
    attempts = draw(st.integers(0, 5))
    delay = draw(st.integers(1, 30)) * S
    interval = max(attempts * delay, 5 * S) + draw(st.integers(0, 600)) * S
    mode = "fail" if attempts == 0 else draw(st.sampled_from(["fail", "delay"]))
    return structs.RestartPolicy(Interval=interval, Attempts=attempts, Delay=delay, Mode=mode)


@st.composite
def reschedule_policies(draw: st.DrawFn) -> structs.ReschedulePolicy:
    delay = draw(st.integers(5, 60)) * S
    function = draw(st.sampled_from(["constant", "exponential", "fibonacci"]))
    max_delay = delay * draw(st.integers(1, 10))
    if draw(st.booleans()):
        return structs.ReschedulePolicy(Unlimited=True, Attempts=0, Delay=delay, DelayFunction=function, MaxDelay=max_delay)
    attempts = draw(st.integers(1, 4))
    interval = max(15 * S, attempts * max_delay) + draw(st.integers(0, 3600)) * S
    return structs.ReschedulePolicy(
        Attempts=attempts, Interval=interval, Delay=delay, DelayFunction=function, MaxDelay=max_delay, Unlimited=False
    )


@st.composite
def update_strategies(draw: st.DrawFn) -> structs.UpdateStrategy:
    min_healthy = draw(st.integers(0, 60)) * S
    healthy = min_healthy + draw(st.integers(1, 300)) * S
    progress = draw(st.sampled_from([0, healthy + draw(st.integers(1, 600)) * S]))
    canary = draw(st.integers(0, 3))
    return structs.UpdateStrategy(
        Stagger=draw(DURATIONS), MaxParallel=draw(st.integers(0, 5)), HealthCheck=draw(st.sampled_from(["checks", "task_states", "manual"])),
        MinHealthyTime=min_healthy, HealthyDeadline=healthy, ProgressDeadline=progress, Canary=canary,
        AutoRevert=draw(st.booleans()), AutoPromote=canary > 0 and draw(st.booleans()),
    )


@st.composite
def networks(draw: st.DrawFn) -> structs.NetworkResource:
    labels = draw(st.lists(LABELS, unique=True, min_size=1, max_size=4))
    statics = draw(st.lists(st.integers(1, 65535), unique=True, min_size=len(labels), max_size=len(labels)))
    reserved, dynamic = [], []
    for label, static in zip(labels, statics, strict=True):
        to = draw(st.integers(-1, 65535) | st.just(0))
        if draw(st.booleans()):
            reserved.append(structs.Port(Label=label, Value=static, To=to))
        else:
            dynamic.append(structs.Port(Label=label, To=to))
    return structs.NetworkResource(
        Mode=draw(st.sampled_from(["", "host", "bridge", "cni/overlay"])), ReservedPorts=reserved or None, DynamicPorts=dynamic or None
    )


@st.composite
def services(draw: st.DrawFn, ports: list[str], provider: str) -> structs.Service:
    port = draw(st.sampled_from(ports)) if ports else ""
    checks = []
    if port:
        for kind in draw(st.lists(st.sampled_from(["http", "tcp"]), max_size=2)):
            checks.append(structs.ServiceCheck(
                Name=draw(NAMES), Type=kind, Path="/health" if kind == "http" else "",
                Interval=draw(DURATIONS), Timeout=draw(st.integers(1, 30)) * S,
            ))
    return structs.Service(
        Name=draw(NAMES), PortLabel=port, Provider=provider, Tags=draw(st.lists(NAMES, max_size=2)) or None,
        Checks=checks or None, Meta=draw(STRING_MAPS) or None,
    )


@st.composite
def tasks(draw: st.DrawFn, name: str, job_type: str) -> structs.Task:
    memory = draw(_optional(st.integers(10, 8192)))
    templates = [
        structs.Template(EmbeddedTmpl=draw(TEXT) + "x", DestPath=f"local/file{i}.conf", ChangeMode=draw(st.sampled_from(["restart", "noop", "signal"])))
        for i in range(draw(st.integers(0, 2)))
    ]
    artifacts = [
        structs.Artifact(GetterSource=f"https://example.com/{draw(NAMES)}.tgz", GetterMode=draw(_optional(st.sampled_from(["any", "file", "dir"]))))
        for _ in range(draw(st.integers(0, 1)))
    ]
    return structs.Task(
        Name=name,
        Driver=draw(st.sampled_from(["docker", "raw_exec", "exec"])),
        Config={"image": f"{draw(NAMES)}:1.0", "args": draw(st.lists(TEXT, max_size=3)), "privileged": draw(st.booleans())},
        Env=draw(STRING_MAPS) or None,
        Meta=draw(STRING_MAPS) or None,
        Resources=structs.Resources(
            CPU=draw(_optional(st.integers(1, 4000))),
            MemoryMB=memory,
            MemoryMaxMB=draw(_optional(st.integers(memory or 300, 16384))),
        ),
        RestartPolicy=draw(_optional(restart_policies())),
        KillTimeout=draw(_optional(DURATIONS)),
        LogConfig=structs.LogConfig(MaxFiles=draw(st.integers(1, 10)), MaxFileSizeMB=draw(st.integers(1, 20))),
        Templates=templates or None,
        Artifacts=artifacts or None,
        Constraints=draw(st.lists(CONSTRAINTS, max_size=2)) or None,
        Affinities=(draw(st.lists(affinities(), max_size=1)) or None) if job_type != "system" else None,
    )


@st.composite
def groups(draw: st.DrawFn, name: str, job_type: str) -> structs.TaskGroup:
    task_names = draw(st.lists(NAMES, unique=True, min_size=1, max_size=3))
    network = draw(_optional(networks()))
    ports = [p.Label for p in (*(network.ReservedPorts or ()), *(network.DynamicPorts or ()))] if network else []
    provider = draw(st.sampled_from(["consul", "nomad"]))
    not_system = job_type != "system"
    return structs.TaskGroup(
        Name=name,
        Count=draw(_optional(st.integers(0, 1 if job_type == "system" else 10))),
        Tasks=[draw(tasks(t, job_type)) for t in task_names],
        Networks=[network] if network else None,
        Services=draw(st.lists(services(ports, provider), max_size=2)) or None,
        Constraints=draw(st.lists(CONSTRAINTS | GROUP_ONLY_CONSTRAINTS, max_size=2)) or None,
        Affinities=(draw(st.lists(affinities(), max_size=2)) or None) if not_system else None,
        Spreads=(draw(st.lists(spreads(), max_size=1)) or None) if not_system else None,
        RestartPolicy=draw(_optional(restart_policies())),
        ReschedulePolicy=draw(_optional(reschedule_policies())) if not_system else None,
        Update=draw(_optional(update_strategies())) if job_type in ("service", "system") else None,
        Migrate=draw(_optional(st.builds(
            structs.MigrateStrategy, MaxParallel=st.integers(0, 3), HealthCheck=st.sampled_from(["checks", "task_states"])
        ))) if job_type == "service" else None,
        EphemeralDisk=structs.EphemeralDisk(SizeMB=draw(st.integers(300, 10_000)), Sticky=draw(_optional(st.booleans()))),
        Meta=draw(STRING_MAPS) or None,
    )


@st.composite
def jobs(draw: st.DrawFn) -> structs.Job:
    """A valid job of any type, as a client might send it (many fields left unset)."""
    job_type = draw(st.sampled_from(["service", "batch", "system", "sysbatch"]))
    job_id = draw(NAMES)
    batchy = job_type in ("batch", "sysbatch")
    crons = draw(st.lists(CRONS, min_size=1, max_size=2))
    return structs.Job(
        ID=job_id,
        Name=draw(_optional(st.just(job_id) | NAMES)),
        Type=job_type if draw(st.booleans()) or job_type != "service" else None,
        Priority=draw(_optional(st.integers(1, 100))),
        Region=draw(_optional(st.sampled_from(["global", "eu-west"]))),
        Datacenters=draw(st.lists(NAMES, max_size=3)) or None,
        Meta=draw(STRING_MAPS) or None,
        Constraints=draw(st.lists(CONSTRAINTS, max_size=2)) or None,
        Update=draw(_optional(update_strategies())) if job_type in ("service", "system") else None,
        TaskGroups=[draw(groups(name, job_type)) for name in draw(st.lists(NAMES, unique=True, min_size=1, max_size=3))],
        Periodic=(
            draw(_optional(st.builds(structs.PeriodicConfig, Specs=st.just(crons), TimeZone=_optional(TIME_ZONES)))) if batchy else None
        ),
        ParameterizedJob=(
            draw(_optional(st.builds(structs.ParameterizedJobConfig, Payload=st.sampled_from(["", "optional", "required", "forbidden"]),
                                     MetaRequired=st.just(["customer"]), MetaOptional=st.just(["day"]))))
            if batchy else None
        ),
        Dispatched=(dispatched := draw(st.booleans())),
        Payload=draw(_optional(st.binary(max_size=16))) if dispatched else None,
    )
