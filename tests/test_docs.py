"""The documented schema accepts every bundled example, and the README opens with the two commands."""
import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

from symbackprop import load_model

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted([*(ROOT / "examples").glob("*.toml"), *(ROOT / "examples" / "layers").glob("*.toml")])
GRAPHS = sorted((ROOT / "examples" / "graphs").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_load_and_match_the_schema(path):
    schema = json.loads((ROOT / "docs" / "network.schema.json").read_text())
    jsonschema.validate(tomllib.loads(path.read_text()), schema)
    load_model(path)


@pytest.mark.parametrize("path", GRAPHS, ids=[p.name for p in GRAPHS])
def test_graph_examples_load_and_match_the_graph_schema(path):
    schema = json.loads((ROOT / "docs" / "graph.schema.json").read_text())
    jsonschema.validate(tomllib.loads(path.read_text()), schema)
    load_model(path)


def test_schema_rejects_what_the_loader_rejects():
    schema = json.loads((ROOT / "docs" / "network.schema.json").read_text())
    document = tomllib.loads((ROOT / "examples" / "mazur.toml").read_text())
    document["network"]["layers"][0]["activation"] = "swish"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_readme_opens_with_the_two_commands():
    first = (ROOT / "README.md").read_text().splitlines()[:2]
    assert first[0].strip().startswith("pip install . && symbackprop ")
    assert first[1].strip() == "pip install '.[test]' && python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text()
    assert first[1].strip() in ci


def test_the_schema_lists_exactly_the_registered_functions():
    from symbackprop.functions.activations import ACTIVATIONS
    from symbackprop.functions.losses import LOSSES

    schema = json.loads((ROOT / "docs" / "network.schema.json").read_text())
    listed = schema["then"]["properties"]["network"]["properties"]["layers"]["items"]["properties"]["activation"]["enum"]
    assert listed == list(ACTIVATIONS)
    assert schema["properties"]["loss"]["properties"]["kind"]["enum"] == list(LOSSES)
