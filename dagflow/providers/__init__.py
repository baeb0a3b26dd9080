"""Providers: hooks and operators for external systems (SQL databases, HTTP services).

Each provider package exports its public names at its top, so ``airflow.providers.<name>.*``
imports map to one dagflow package. The SQL hooks open the *user's* databases through SQLAlchemy;
they never touch dagflow's metadata store.
"""
