"""Runs SQL on a current ClickHouse engine, in process, through chDB.

Reads {"database": name, "steps": [{"sql": text, "fetch": bool}, ...]} on stdin,
runs every step in order in one session whose current database is `name`, and
prints a JSON list with the rows ("data" of JSONCompact) of each fetching step.
A failing step stops the run with its SQL and the error on stderr (exit 1).
"""

import json
import sys
import tempfile

import chdb
from chdb import session


def main():
    request = json.load(sys.stdin)
    results = []
    with tempfile.TemporaryDirectory() as path:
        db = session.Session(path)
        try:
            database = request["database"]
            db.query(f"CREATE DATABASE IF NOT EXISTS {database}")
            db.query(f"USE {database}")
            for step in request["steps"]:
                try:
                    if step.get("fetch"):
                        answer = db.query(step["sql"], "JSONCompact")
                        results.append(json.loads(answer.bytes())["data"])
                    else:
                        db.query(step["sql"])
                except Exception as error:  # chDB raises its own error types
                    sys.stderr.write(f"chDB {chdb.__version__} failed on:\n{step['sql'][:2000]}\n{error}\n")
                    sys.exit(1)
        finally:
            db.close()
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
