"""The server agent: Raft runtime (write-ahead log, snapshots, transport, timers), RPC endpoints, leader loops."""
