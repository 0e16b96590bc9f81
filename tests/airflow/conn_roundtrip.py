"""Reads Airflow connections the way Airflow itself does, for crates/launch/tests/airflow_conn.rs.

Run with the python of scripts/airflow-venv.sh. Reads JSON lines from stdin, one case each:

    {"id": "...", "uri": "...", "json": "...", "expect": {fields},
     "env": {"name": "AIRFLOW_CONN_X", "value": "...", "conn_id": "x"}}

every key but "id" optional; fields are conn_type, host, schema, login, password, port, extra
(the JSON text) and description. Writes one JSON line per case, the same "id" and:

    core_uri / sdk_uri:       Connection(conn_id="x", uri=uri) in Airflow core / Task SDK's from_uri
    core_json / sdk_json:     Connection.from_json(value=json, conn_id="x")
    core_get_uri / sdk_get_uri, core_as_json / sdk_as_json:
                              Connection(conn_id="x", **expect).get_uri() and .as_json()
    core_env:                 os.environ[name] = value, then Airflow's environment-variables
                              secrets backend .get_connection(conn_id)

each a connection's fields (extra as Airflow stores it, extra_dejson as Python's json.dumps of it),
a string, or {"error": "<exception>"}. Offline: nothing here touches a network or a database.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

# Airflow reads its configuration on import: point it at a throwaway home, an in-memory
# database it never opens, and no cloud metadata service.
_home = tempfile.TemporaryDirectory(prefix="airgate-airflow-home-")
os.environ["AIRFLOW_HOME"] = _home.name
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "sqlite://")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["NO_PROXY"] = "*"
for name in [name for name in os.environ if name.startswith("AIRFLOW_CONN_")]:
    del os.environ[name]

# Airflow logs warnings on stdout: keep stdout for the results alone.
_results = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

from airflow.models.connection import Connection as CoreConnection  # noqa: E402
from airflow.sdk.definitions.connection import Connection as SdkConnection  # noqa: E402
from airflow.secrets.environment_variables import EnvironmentVariablesBackend  # noqa: E402

FIELDS = ("conn_type", "host", "schema", "login", "password", "port", "extra", "description")


def fields(conn) -> dict:
    out = {"conn_id": conn.conn_id}
    for name in FIELDS:
        out[name] = getattr(conn, name, None)
    try:
        out["extra_dejson"] = json.dumps(conn.extra_dejson)
    except Exception as e:  # noqa: BLE001 - reported, not raised
        out["extra_dejson"] = f"error: {type(e).__name__}: {e}"
    return out


def attempt(make):
    try:
        return make()
    except Exception as e:  # noqa: BLE001 - every failure is a result to compare
        return {"error": f"{type(e).__name__}: {e}"}


def run(case: dict) -> dict:
    result = {"id": case.get("id")}
    uri = case.get("uri")
    if uri is not None:
        result["core_uri"] = attempt(lambda: fields(CoreConnection(conn_id="x", uri=uri)))
        result["sdk_uri"] = attempt(lambda: fields(SdkConnection.from_uri(uri, conn_id="x")))
    text = case.get("json")
    if text is not None:
        result["core_json"] = attempt(lambda: fields(CoreConnection.from_json(value=text, conn_id="x")))
        result["sdk_json"] = attempt(lambda: fields(SdkConnection.from_json(value=text, conn_id="x")))
    expect = case.get("expect")
    if expect is not None:
        kwargs = {name: expect.get(name) for name in FIELDS}
        result["core_get_uri"] = attempt(lambda: CoreConnection(conn_id="x", **kwargs).get_uri())
        result["sdk_get_uri"] = attempt(lambda: SdkConnection(conn_id="x", **kwargs).get_uri())
        result["core_as_json"] = attempt(lambda: CoreConnection(conn_id="x", **kwargs).as_json())
        result["sdk_as_json"] = attempt(lambda: SdkConnection(conn_id="x", **kwargs).as_json())
    env = case.get("env")
    if env is not None:
        os.environ[env["name"]] = env["value"]
        try:
            result["core_env"] = attempt(
                lambda: fields(EnvironmentVariablesBackend().get_connection(conn_id=env["conn_id"]))
            )
        finally:
            del os.environ[env["name"]]
    return result


def main() -> None:
    for line in sys.stdin:
        if line.strip():
            _results.write(json.dumps(run(json.loads(line))) + "\n")
    _results.flush()


if __name__ == "__main__":
    main()
