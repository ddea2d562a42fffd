"""Caravan's processes: asyncio shells (server, client) around the pure core in ``cluster``."""
