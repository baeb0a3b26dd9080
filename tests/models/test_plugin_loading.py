"""Loading the plugins folder, and what authoring accepts from it (weight strategies)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagflow import DAG
from dagflow.exceptions import DagDefinitionError
from dagflow.models.priority_strategy import PriorityWeightStrategy
from dagflow.operators import EmptyOperator
from dagflow.plugins.manager import current_plugins, load_plugins, plugins_in


def write(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(source)
    return path


def test_plugins_register_timetables_macros_and_strategies_by_class_path(tmp_path):
    write(
        tmp_path,
        "acme_tools.py",
        """
from dagflow.models.priority_strategy import PriorityWeightStrategy
from dagflow.plugins import AirflowPlugin
from dagflow.timetables.base import Timetable


class Quiet(Timetable):
    pass


class Heavy(PriorityWeightStrategy):
    def get_weight(self, ti):
        return 50


def shout(text):
    return text.upper()


class AcmePlugin(AirflowPlugin):
    name = "acme"
    timetables = [Quiet]
    priority_weight_strategies = [Heavy]
    macros = [shout]
""",
    )

    found = load_plugins(tmp_path)

    assert [p.name for p in found.plugins] == ["acme"]
    assert list(found.timetables) == ["acme_tools.Quiet"]
    assert set(found.priority_weight_strategies) == {"acme_tools.Heavy", "Heavy"}
    assert found.macros["acme"].shout("hi") == "HI"
    assert found.errors == {}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = 1 +\n", "plugin failed to import: SyntaxError"),
        ("import no_such_module_here\n", "plugin failed to import: ModuleNotFoundError: No module named"),
        (
            "from dagflow.plugins import DagflowPlugin\n\nclass Nameless(DagflowPlugin):\n    pass\n",
            "plugin failed to import: ValueError: plugin class Nameless has no `name`",
        ),
    ],
)
def test_a_broken_plugin_is_one_line_naming_its_file_and_the_others_still_load(tmp_path, source, message):
    broken = write(tmp_path, "broken.py", source)
    write(
        tmp_path,
        "fine.py",
        "from dagflow.plugins import DagflowPlugin\n\nclass Fine(DagflowPlugin):\n    name = 'fine'\n",
    )

    found = load_plugins(tmp_path)

    assert [p.name for p in found.plugins] == ["fine"]
    error = found.errors[str(broken)]
    assert error.message.startswith(message) and "\n" not in error.summary()
    assert error.summary().startswith(str(broken))


def test_the_loaded_set_is_reused_until_a_plugin_file_changes(tmp_path):
    path = write(
        tmp_path,
        "one.py",
        "from dagflow.plugins import DagflowPlugin\n\nclass One(DagflowPlugin):\n    name = 'one'\n",
    )
    first = plugins_in(tmp_path)
    assert plugins_in(tmp_path) is first
    path.write_text(path.read_text() + "\n# edited\n")
    import os

    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10_000_000))
    assert plugins_in(tmp_path) is not first


def test_a_try_reads_the_plugins_at_most_once_within_their_max_age_and_a_parse_reads_them_now(
    dagflow_home: Path,
):
    path = write(
        dagflow_home / "plugins",
        "one.py",
        "from dagflow.plugins import DagflowPlugin\n\nclass One(DagflowPlugin):\n    name = 'one'\n",
    )
    first = current_plugins(max_age=60)
    assert [p.name for p in first.plugins] == ["one"]
    path.unlink()
    assert current_plugins(max_age=60) is first  # remembered: no settings or folder read
    assert current_plugins().plugins == []  # the default: as they are now


def test_an_unregistered_weight_strategy_is_a_definition_error_naming_it():
    class Unlisted(PriorityWeightStrategy):
        def get_weight(self, ti):
            return 1

    with pytest.raises(DagDefinitionError, match=r"a plugin registers .*got .*Unlisted"), DAG("w"):
        EmptyOperator(task_id="t", weight_rule=Unlisted())
    with pytest.raises(DagDefinitionError, match="weight_rule must be one of"), DAG("w2"):
        EmptyOperator(task_id="t", weight_rule=42)
