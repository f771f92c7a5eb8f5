"""The DuckDB runner: input files registered as views, the scoring query run, the leads the SQL
cannot decide scored by the pure scorer, results written out."""
