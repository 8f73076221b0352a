"""The CloudFormation template as deployed: infra/template.yaml plus one Athena saved
query per file in queries/ (the SQL stays in one place; analysts get the same queries
in Athena that `energy sql -f` runs locally)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cfnlint.decode import cfn_yaml

INFRA = Path(__file__).resolve().parent
TEMPLATE = INFRA / "template.yaml"
QUERIES = INFRA.parent / "queries"


def saved_queries() -> dict[str, dict]:
    resources = {}
    for path in sorted(QUERIES.glob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        first = sql.splitlines()[0] if sql else ""
        description = first[2:].strip() if first.startswith("--") else path.stem.replace("_", " ")
        logical_id = "Query" + "".join(part.capitalize() for part in re.split(r"[^a-zA-Z0-9]+", path.stem))
        resources[logical_id] = {
            "Type": "AWS::Athena::NamedQuery",
            "Properties": {
                "Name": path.stem.replace("_", " "),
                "Description": description[:1024],
                "Database": {"Ref": "GlueWarehouseDatabase"},
                "WorkGroup": {"Ref": "AthenaWorkGroup"},
                "QueryString": sql,
            },
        }
    return resources


def template() -> dict:
    document = json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))))  # plain dicts and lists
    document["Resources"].update(saved_queries())
    return document


def template_body() -> str:
    return json.dumps(template(), indent=1)


if __name__ == "__main__":
    print(template_body())
