"""The ``caravan`` command line: Nomad's verbs and flags over Caravan's HTTP API and job files."""
