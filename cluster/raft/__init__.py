"""Raft consensus as a pure state machine (see ``cluster.raft.types`` for its durable types)."""
