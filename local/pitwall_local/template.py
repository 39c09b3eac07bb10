"""Read template.yaml and expand its SAM resources into plain CloudFormation, with the
aws-sam-translator that aws-sam-cli installed (`.tools/sam`: it pins its own pydantic, so it
runs as a separate process). The expansion is cached under build/localcloud by content hash.

Before translating, the local paths SAM CLI would package are rewritten the way `sam package`
does: each state machine's DefinitionUri becomes its Definition, and each CodeUri/ContentUri
an S3 location in `CODE_BUCKET` whose key is the local folder."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

CODE_BUCKET = "pitwall-local-code"

_TRANSLATE = """
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.public.exceptions import InvalidDocumentException

class NoManagedPolicies:
    def load(self):
        return {}

try:
    print(json.dumps(transform(json.load(sys.stdin), {}, NoManagedPolicies())))
except InvalidDocumentException as exc:
    sys.exit("SAM template is invalid: " + "; ".join(str(cause) for cause in exc.causes))
"""


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, !GetAtt, ...)."""


def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _short_tag)


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


def prepare_for_translation(template: dict[str, Any], root: Path) -> dict[str, Any]:
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if "DefinitionUri" in properties:
            properties["Definition"] = json.loads((root / properties.pop("DefinitionUri")).read_text())
        for field in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(field), str):
                properties[field] = f"s3://{CODE_BUCKET}/{properties[field].rstrip('/')}"
    return template


def sam_python(root: Path) -> Path:
    python = root / ".tools" / "sam" / "bin" / "python"
    if not python.exists():
        raise FileNotFoundError(f"{python} is missing: run `make setup` (it installs aws-sam-cli there)")
    return python


def translated_template(root: Path, template_name: str = "template.yaml") -> dict[str, Any]:
    """template.yaml as plain CloudFormation (cached by the hash of everything it reads)."""
    template = prepare_for_translation(load_template(root / template_name), root)
    source = json.dumps(template, sort_keys=True)
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    cache = root / "build" / "localcloud" / f"template-{digest}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    answer = subprocess.run(
        [str(sam_python(root)), "-c", _TRANSLATE],
        input=source,
        capture_output=True,
        text=True,
        env={**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")},
        check=False,
    )
    if answer.returncode != 0:
        raise RuntimeError(f"translating {template_name} failed: {answer.stderr.strip()[-2000:]}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(answer.stdout)
    return json.loads(answer.stdout)
