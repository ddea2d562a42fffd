"""The live layer: the servers' event stream relayed to browsers over WebSockets.

- ``access``: topic subscriptions parsed and checked against a token's ACL (shared with
  ``/v1/event/stream``);
- ``relay``: one per web process, follows ``Event.Stream`` and fans events out to channel-layer groups;
- ``consumers``: ``LiveConsumer`` at ``/ws/events`` (origin, session token, subscriptions, stats, logs);
- ``routing``: the WebSocket URL patterns.
"""
