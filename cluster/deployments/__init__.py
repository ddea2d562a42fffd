"""Deployments: allocation health, the deployment watcher (promote, fail, revert) and their texts.

Import the submodules directly (``cluster.deployments.watcher``); this package imports nothing, so
the state store can use the descriptions without a cycle.
"""
