"""Writes to Nomad's built-in service catalog and to the scheduler configuration."""

from __future__ import annotations

from cluster.state.events import EventType
from cluster.state.records import SchedulerConfiguration, ServiceRegistration
from cluster.state.txn import WriteTxn

__all__ = ["delete_services", "delete_services_by_alloc", "set_scheduler_config", "upsert_services"]


def upsert_services(txn: WriteTxn, services: list[ServiceRegistration]) -> None:
    for svc in services:
        existing = txn.service(svc.ID)
        svc.CreateIndex = existing.CreateIndex if existing is not None else txn.index
        svc.ModifyIndex = txn.index
        txn.put_service(svc, EventType.SERVICE_REGISTRATION)


def delete_services(txn: WriteTxn, service_ids: list[str]) -> None:
    for service_id in service_ids:
        txn.delete_service(service_id, EventType.SERVICE_DEREGISTRATION)


def delete_services_by_alloc(txn: WriteTxn, alloc_ids: list[str]) -> None:
    for alloc_id in alloc_ids:
        for svc in txn.group_members("services_by_alloc", alloc_id):
            txn.delete_service(svc.ID, EventType.SERVICE_DEREGISTRATION)


def set_scheduler_config(txn: WriteTxn, config: SchedulerConfiguration, cas_index: int | None) -> bool:
    """Stores ``config``. With ``cas_index`` the write happens only if the stored configuration's
    ModifyIndex still equals it (check-and-set); returns whether it was written."""
    current = txn.scheduler_config()
    if cas_index is not None and current.ModifyIndex != cas_index:
        return False
    config.CreateIndex = current.CreateIndex or txn.index
    config.ModifyIndex = txn.index
    txn.set_scheduler_config(config, EventType.SCHEDULER_CONFIG)
    return True
