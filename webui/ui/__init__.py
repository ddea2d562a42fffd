"""The dashboard at /ui/: server-rendered pages over the servers' RPC (see urls.py for the map)."""
