"""The README and shipped configurations stay true."""

from pathlib import Path

import pytest

from podship.engine import config, registry
from podship.runtime import options

ROOT = Path(__file__).resolve().parent.parent


def test_readme_option_tables_match_the_plugins():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- options:begin -->\n", 1)[1].split("\n<!-- options:end -->", 1)[0]
    generated = "\n\n".join(options.markdown_table(table) for table in registry.all_tables())
    assert section == generated, "run `podship options --markdown` and paste it into the README"


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_pipeline_file_passes_check(path):
    env = {
        name: f"{name.lower()}-value"
        for name in ("POD_API_KEY", "ACME_POD_KEY", "GLOBEX_POD_KEY", "FORWARD_SHARED_KEY")
    }
    parsed = config.load(str(path), env)
    assert parsed.inputs
    assert parsed.outputs


def test_readme_links_stay_inside_the_repository_and_exist():
    import re

    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert targets, "the README links to the files it describes"
    for target in targets:
        assert "://" not in target and not target.startswith("/"), target
        path = (ROOT / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT), f"{target} points outside the repository"
        assert path.exists(), f"{target} does not exist"
