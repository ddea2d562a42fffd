"""Realistic objects in Nomad's API JSON, shared by the structs tests.

Jobs are written the way clients send them: sparse (what a person writes for ``python-nomad``)
or with every field present and ``null`` for the unset ones (what ``nomad job run -output``
prints). Each call returns a fresh dict, so a test may change it freely.
"""

from __future__ import annotations

from typing import Any

S = 1_000_000_000
M = 60 * S

JSON = dict[str, Any]


def web_job() -> JSON:
    """A service job: a web group with a bridge network, services and checks, templates, an
    artifact and canaries; a cache group with a task-level restart policy."""
    return {
        "ID": "web",
        "Name": "web",
        "Type": "service",
        "Datacenters": ["dc1", "dc2"],
        "Meta": {"team": "storefront", "owner": "Zoë"},
        "Constraints": [{"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="}],
        "Update": {"MaxParallel": 2, "MinHealthyTime": 15 * S, "HealthyDeadline": 4 * M, "AutoRevert": True},
        "TaskGroups": [
            {
                "Name": "web",
                "Count": 3,
                "Update": {"Canary": 1, "AutoPromote": True},
                "Networks": [
                    {
                        "Mode": "bridge",
                        "DynamicPorts": [{"Label": "http", "To": 8080}],
                        "ReservedPorts": [{"Label": "metrics", "Value": 9100}],
                    }
                ],
                "Services": [
                    {
                        "Name": "web",
                        "PortLabel": "http",
                        "Tags": ["public", "v2"],
                        "Provider": "nomad",
                        "Checks": [
                            {"Type": "http", "Path": "/healthz", "Interval": 10 * S, "Timeout": 2 * S},
                            {"Name": "metrics-up", "Type": "tcp", "PortLabel": "metrics", "Interval": 30 * S, "Timeout": 3 * S},
                        ],
                    }
                ],
                "Spreads": [
                    {"Attribute": "${node.datacenter}", "SpreadTarget": [{"Value": "dc1", "Percent": 60}, {"Value": "dc2", "Percent": 40}]}
                ],
                "Tasks": [
                    {
                        "Name": "app",
                        "Driver": "docker",
                        "Config": {"image": "ghcr.io/acme/web:2.4.1", "ports": ["http"], "args": ["--port", "${NOMAD_PORT_http}"]},
                        "Env": {"LOG_LEVEL": "info"},
                        "Resources": {"CPU": 500, "MemoryMB": 256, "MemoryMaxMB": 512},
                        "Templates": [
                            {"EmbeddedTmpl": "PORT={{ env \"NOMAD_PORT_http\" }}\n", "DestPath": "local/app.env", "Envvars": True},
                            {"SourcePath": "local/nginx.conf.tpl", "DestPath": "local/nginx.conf", "ChangeMode": "signal", "ChangeSignal": "sighup"},
                        ],
                        "Artifacts": [{"GetterSource": "https://example.com/assets/static.tar.gz", "RelativeDest": "local/static"}],
                        "KillTimeout": 20 * S,
                    }
                ],
            },
            {
                "Name": "cache",
                "Tasks": [
                    {
                        "Name": "redis",
                        "Driver": "docker",
                        "Config": {"image": "redis:7"},
                        "Resources": {"CPU": 200, "MemoryMB": 128},
                        "RestartPolicy": {"Attempts": 5},
                    }
                ],
            },
        ],
    }


def batch_job() -> JSON:
    """A periodic batch job with a reschedule policy, logs and a dispatch-style meta."""
    return {
        "ID": "nightly-report",
        "Type": "batch",
        "Datacenters": ["dc1"],
        "Periodic": {"Specs": ["0 3 * * *", "30 12 * * MON-FRI"], "TimeZone": "Europe/Paris", "ProhibitOverlap": True},
        "TaskGroups": [
            {
                "Name": "report",
                "ReschedulePolicy": {"Attempts": 2, "Interval": 2 * 60 * M, "Delay": 30 * S},
                "EphemeralDisk": {"SizeMB": 1024},
                "Tasks": [
                    {
                        "Name": "render",
                        "Driver": "raw_exec",
                        "Config": {"command": "/usr/local/bin/render", "args": ["--all"]},
                        "LogConfig": {"MaxFiles": 3, "MaxFileSizeMB": 20},
                    }
                ],
            }
        ],
    }


def system_job() -> JSON:
    return {
        "ID": "node-exporter",
        "Type": "system",
        "Datacenters": ["*"],
        "NodePool": "all",
        "Priority": 90,
        "TaskGroups": [
            {
                "Name": "exporter",
                "Networks": [{"ReservedPorts": [{"Label": "metrics", "Value": 9100}]}],
                "Tasks": [{"Name": "exporter", "Driver": "raw_exec", "Config": {"command": "/usr/local/bin/node_exporter"}}],
            }
        ],
    }


def sysbatch_job() -> JSON:
    return {
        "ID": "os-patch",
        "Type": "sysbatch",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {"Name": "patch", "Tasks": [{"Name": "apt", "Driver": "raw_exec", "User": "root", "Config": {"command": "/bin/sh"}}]}
        ],
    }


def cli_output_job() -> JSON:
    """A job as the nomad CLI sends it: every field of the API present, unset ones null."""
    return {
        "Region": None, "Namespace": None, "ID": "echo", "Name": "echo", "Type": None, "Priority": None,
        "AllAtOnce": None, "Datacenters": ["dc1"], "NodePool": None, "Constraints": None, "Affinities": None,
        "TaskGroups": [
            {
                "Name": "echo", "Count": None, "Constraints": None, "Affinities": None,
                "Tasks": [
                    {
                        "Name": "server", "Driver": "docker", "User": "", "Lifecycle": None,
                        "Config": {"image": "hashicorp/http-echo:1.0", "args": ["-text", "hello"]},
                        "Constraints": None, "Affinities": None, "Env": None, "Services": None,
                        "Resources": {"CPU": 100, "Cores": None, "MemoryMB": 64, "MemoryMaxMB": None,
                                      "DiskMB": None, "Networks": None, "Devices": None, "NUMA": None,
                                      "SecretsMB": None, "IOPS": None},
                        "RestartPolicy": None, "Meta": None, "KillTimeout": None, "LogConfig": None,
                        "Artifacts": None, "Vault": None, "Consul": None, "Templates": None,
                        "DispatchPayload": None, "VolumeMounts": None, "Leader": False, "ShutdownDelay": 0,
                        "KillSignal": "", "Kind": "", "ScalingPolicies": None, "Secrets": None,
                        "Identity": None, "Identities": None, "Actions": None, "Schedule": None,
                    }
                ],
                "Spreads": None, "Volumes": None, "RestartPolicy": None, "Disconnect": None,
                "ReschedulePolicy": None, "EphemeralDisk": None, "Update": None, "Migrate": None,
                "Networks": None, "Meta": None, "Services": None, "ShutdownDelay": None,
                "MaxRunDuration": None, "StopAfterClientDisconnect": None, "MaxClientDisconnect": None,
                "Scaling": None, "Consul": None, "PreventRescheduleOnLost": None,
            }
        ],
        "Update": None, "Multiregion": None, "Spreads": None, "Periodic": None, "ParameterizedJob": None,
        "Reschedule": None, "Migrate": None, "Meta": None, "UI": None, "Stop": None, "ParentID": None,
        "Dispatched": False, "DispatchIdempotencyToken": None, "Payload": None, "ConsulNamespace": None,
        "VaultNamespace": None, "NomadTokenID": None, "Status": None, "StatusDescription": None,
        "Stable": None, "Version": None, "SubmitTime": None, "CreateIndex": None, "ModifyIndex": None,
        "JobModifyIndex": None, "VersionTag": None,
    }


def node() -> JSON:
    return {
        "ID": "5f3c1b2a-0d4e-4a7b-9c1d-2e3f4a5b6c7d",
        "Datacenter": "dc1",
        "Name": "worker-1",
        "HTTPAddr": "10.0.0.11:4646",
        "Attributes": {"kernel.name": "linux", "cpu.numcores": "8", "driver.docker": "1"},
        "NodeResources": {
            "Cpu": {"CpuShares": 16000, "TotalCpuCores": 8, "ReservableCpuCores": [0, 1, 2, 3, 4, 5, 6, 7]},
            "Memory": {"MemoryMB": 32000},
            "Disk": {"DiskMB": 100000},
            "Networks": [{"Mode": "host", "Device": "eth0", "CIDR": "10.0.0.11/32", "IP": "10.0.0.11", "MBits": 1000}],
            "MinDynamicPort": 20000,
            "MaxDynamicPort": 32000,
        },
        "ReservedResources": {"Cpu": {"CpuShares": 500}, "Memory": {"MemoryMB": 1024}, "Networks": {"ReservedHostPorts": "22"}},
        "NodeClass": "general",
        "NodePool": "default",
        "SchedulingEligibility": "eligible",
        "Status": "ready",
        "StatusUpdatedAt": 1_716_000_000,
        "Drivers": {
            "docker": {"Detected": True, "Healthy": True, "HealthDescription": "Healthy", "UpdateTime": "2024-05-18T02:40:00.123456Z"},
        },
        "Events": [{"Message": "Node registered", "Subsystem": "Cluster", "Timestamp": "2024-05-18T02:39:58Z", "CreateIndex": 12}],
        "DrainStrategy": {"Deadline": 3600 * S, "IgnoreSystemJobs": False, "ForceDeadline": "2024-05-18T03:40:00Z", "StartedAt": "2024-05-18T02:40:00Z"},
        "CreateIndex": 12,
        "ModifyIndex": 40,
    }


def allocation() -> JSON:
    return {
        "ID": "9a8b7c6d-1111-2222-3333-444455556666",
        "Namespace": "default",
        "EvalID": "e1e1e1e1-0000-0000-0000-000000000001",
        "Name": "web.web[0]",
        "NodeID": "5f3c1b2a-0d4e-4a7b-9c1d-2e3f4a5b6c7d",
        "NodeName": "worker-1",
        "JobID": "web",
        "TaskGroup": "web",
        "AllocatedResources": {
            "Tasks": {"app": {"Cpu": {"CpuShares": 500}, "Memory": {"MemoryMB": 256, "MemoryMaxMB": 512}}},
            "Shared": {"DiskMB": 300, "Ports": [{"Label": "http", "Value": 23456, "To": 8080, "HostIP": "10.0.0.11"}]},
        },
        "Metrics": {"NodesEvaluated": 3, "NodesFiltered": 1, "NodesAvailable": {"dc1": 3}, "ConstraintFiltered": {"${attr.kernel.name} = linux": 1},
                    "ScoreMetaData": [{"NodeID": "5f3c", "Scores": {"binpack": 0.42}, "NormScore": 0.42}], "AllocationTime": 123_456},
        "DesiredStatus": "run",
        "ClientStatus": "running",
        "TaskStates": {
            "app": {
                "State": "running",
                "Restarts": 1,
                "LastRestart": "2024-05-18T02:41:00.5Z",
                "StartedAt": "2024-05-18T02:41:01Z",
                "Events": [{"Type": "Started", "Time": 1_716_000_061_000_000_000, "DisplayMessage": "Task started by client"}],
            }
        },
        "DeploymentID": "d0d0d0d0-0000-0000-0000-000000000001",
        "DeploymentStatus": {"Healthy": True, "Timestamp": "2024-05-18T02:41:20Z", "Canary": True, "ModifyIndex": 55},
        "RescheduleTracker": {"Events": [{"RescheduleTime": 1_716_000_000_000_000_000, "PrevAllocID": "old", "PrevNodeID": "n0", "Delay": 30 * S}]},
        "CreateIndex": 50,
        "ModifyIndex": 55,
        "AllocModifyIndex": 50,
        "CreateTime": 1_716_000_060_000_000_000,
        "ModifyTime": 1_716_000_080_000_000_000,
    }


def evaluation() -> JSON:
    return {
        "ID": "e1e1e1e1-0000-0000-0000-000000000002",
        "Namespace": "default",
        "Priority": 50,
        "Type": "service",
        "TriggeredBy": "job-register",
        "JobID": "web",
        "Status": "blocked",
        "StatusDescription": "created due to placement conflicts",
        "WaitUntil": "0001-01-01T00:00:00Z",
        "FailedTGAllocs": {"web": {"NodesEvaluated": 2, "NodesExhausted": 2, "DimensionExhausted": {"memory": 2}}},
        "ClassEligibility": {"v1:123": True},
        "QueuedAllocations": {"web": 1},
        "CreateIndex": 60,
        "ModifyIndex": 61,
        "CreateTime": 1_716_000_100_000_000_000,
        "ModifyTime": 1_716_000_100_000_000_000,
    }


def deployment() -> JSON:
    return {
        "ID": "d0d0d0d0-0000-0000-0000-000000000001",
        "Namespace": "default",
        "JobID": "web",
        "JobVersion": 3,
        "TaskGroups": {
            "web": {
                "AutoRevert": True, "AutoPromote": True, "ProgressDeadline": 10 * M,
                "RequireProgressBy": "2024-05-18T02:51:00Z", "PlacedCanaries": ["9a8b7c6d"],
                "DesiredCanaries": 1, "DesiredTotal": 3, "PlacedAllocs": 1, "HealthyAllocs": 1,
            }
        },
        "Status": "running",
        "StatusDescription": "Deployment is running but requires manual promotion",
        "CreateIndex": 52,
        "ModifyIndex": 58,
    }
