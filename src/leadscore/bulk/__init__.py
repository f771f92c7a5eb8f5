"""The store's bulk paths: a store exported to the batch engine and its results written back, the
scoring query run inside PostgreSQL, and the ADBC reader and writer programs run in child processes.

Empty on purpose: the programs (`python -m leadscore.bulk.adbc_reader`) import this package, and must
not pay for SQLAlchemy or DuckDB.
"""
