"""The dbt project as a product: every model documented, the docs site builds offline."""

from __future__ import annotations

import ast
import json
import re

import yaml

from energy.warehouse import run_dbt
from energy.workspace import DBT_PROJECT_DIR


def test_every_model_and_column_is_described():
    missing = []
    for path in sorted((DBT_PROJECT_DIR / "models").rglob("*.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        for model in document.get("models", []):
            if not model.get("description"):
                missing.append(model["name"])
            for column in model.get("columns", []):
                if not column.get("description"):
                    missing.append(f"{model['name']}.{column['name']}")
    assert not missing, missing
    documented = {
        model["name"]
        for path in (DBT_PROJECT_DIR / "models").rglob("*.yml")
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", [])
    }
    sql_models = {path.stem for path in (DBT_PROJECT_DIR / "models").rglob("*.sql")}
    assert sql_models <= documented, sql_models - documented


def test_docs_site_generates_offline_with_lineage(demo_workspace):
    result = run_dbt(demo_workspace, ["docs", "generate", "--static"])
    assert result.success
    target = demo_workspace.dbt_artifacts / "target"
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    assert "model.energy.fct_forecast" in catalog["nodes"]
    assert manifest["parent_map"]["model.energy.rpt_summary"]  # lineage is there
    assert "exposure.energy.analyst_sql" in manifest["exposures"]
    static = (target / "static_index.html").read_text()
    assert "fct_daily_consumption" in static and len(static) > 100_000


LAYERS = ("staging", "intermediate", "marts")


def test_models_read_only_their_own_layer_or_an_earlier_one(demo_workspace):
    """The DAG flows staging -> intermediate -> marts: no staging model reads an
    intermediate or a mart, and no intermediate model reads a mart (the daily totals the
    forecasting chain reads are int_readings_aggregated_to_days, not the public
    fct_daily_consumption built on them). From the manifest of a real parse."""
    result = run_dbt(demo_workspace, ["parse"])
    assert result.success
    manifest = json.loads((demo_workspace.dbt_artifacts / "target" / "manifest.json").read_text())
    models = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}

    def layer(node: dict) -> int | None:
        folder = node["original_file_path"].split("/")[1]
        return LAYERS.index(folder) if folder in LAYERS else None

    backwards = [
        f"{node['name']} ({LAYERS[layer(node)]}) reads {models[parent]['name']} ({LAYERS[layer(models[parent])]})"
        for uid, node in models.items()
        for parent in node["depends_on"]["nodes"]
        if parent in models and layer(node) is not None and layer(models[parent]) is not None and layer(models[parent]) > layer(node)
    ]
    assert not backwards, backwards
    assert {layer(node) for node in models.values()} >= {0, 1, 2}


ADAPTER_PREFIXES = ("default__", "duckdb__", "trino__", "athena__")


def signature_arguments(macro_sql: str) -> list[str]:
    """The parameter names of a macro's (or generic test's) Jinja signature."""
    match = re.match(r"\{%-?\s*(?:macro|test)\s+\w+\s*\((.*?)\)\s*-?%\}", macro_sql, re.DOTALL)
    assert match, macro_sql[:200]
    return [argument.arg for argument in ast.parse(f"def signature({match.group(1)}): pass").body[0].args.args]


def test_every_macro_and_its_arguments_are_described(workspace):
    """Every macro but the engine implementations (described under the macro that
    dispatches to them) is documented in macros/_macros.yml, with each argument of its
    signature."""
    assert run_dbt(workspace, ["parse"]).success
    manifest = json.loads((workspace.dbt_artifacts / "target" / "manifest.json").read_text())
    macros = [
        macro
        for macro in manifest["macros"].values()
        if macro["package_name"] == "energy" and not macro["name"].startswith(ADAPTER_PREFIXES)
    ]
    assert len(macros) > 50, len(macros)
    missing = []
    for macro in macros:
        if not macro["description"].strip():
            missing.append(macro["name"])
        signature = signature_arguments(macro["macro_sql"])
        documented = {argument["name"]: argument for argument in macro["arguments"]}
        for name in signature:
            argument = documented.get(name)
            if argument is None or not argument["type"] or not (argument["description"] or "").strip():
                missing.append(f"{macro['name']}({name})")
        missing += [f"{macro['name']}({name}): not in the signature" for name in sorted(set(documented) - set(signature))]
    assert not missing, missing
