"""Generated data at township, county and district scale, and the benchmark that runs on it.

generate.py writes a realistic tree, roster and five years of records straight to the tables
(COPY on PostgreSQL, batched INSERTs on SQLite); bench.py measures the product on that data;
databases.py keeps the benchmark data in a database of its own.
"""
