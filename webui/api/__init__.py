"""The Nomad-compatible HTTP API under /v1: thin views over services in webui and cluster."""
