"""The trigger form's pure part: which widget a param gets, and reading its text back (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dagflow.models.param import Param
from webui.trigger_form import form_fields, kind_of, read_form, read_value, shown_text


def dumped(default=None, **schema) -> dict:
    return Param(default, **schema).dump()


@pytest.mark.parametrize(
    ("param", "kind"),
    [
        (dumped("x", type="string"), "string"),
        (dumped(1, type=["integer", "null"]), "integer"),
        (dumped(1.5, type="number"), "number"),
        (dumped(True, type="boolean"), "boolean"),
        (dumped("a", enum=["a", "b"]), "enum"),
        (dumped([1], type="array"), "json"),
        (dumped({}, type="object"), "json"),
        (dumped(1, type=["integer", "string"]), "json"),
        (dumped(7), "integer"),
        (dumped(False), "boolean"),
        (dumped(None), "string"),
        (dumped({"a": 1}), "json"),
    ],
)
def test_a_params_widget_follows_its_schema_type_or_else_its_default(param, kind):
    assert kind_of(param) == kind


def test_a_param_without_a_default_shows_an_empty_input():
    no_default = Param(type="string").dump()
    [field] = form_fields({"p": no_default})
    assert field.text == "" and field.kind == "string"


def test_an_empty_input_is_none_when_the_schema_allows_null_and_required_otherwise():
    assert read_value(dumped(1, type=["integer", "null"]), "") is None
    assert read_value(dumped("x", type="string"), "") == ""
    with pytest.raises(ValueError, match="a value is required"):
        read_value(dumped(1, type="integer"), "")


def test_a_nullable_boolean_offers_an_empty_choice():
    [field] = form_fields({"p": dumped(None, type=["boolean", "null"])})
    assert field.options[0] == ("", "(none)")


def test_enum_choices_read_as_their_values_display_labels_as_stored_or_in_memory():
    labels = {1: "One", None: "None (clear selection)"}
    in_memory = dumped(1, type=["integer", "null"], enum=[1, 2, None], values_display=labels)
    stored = dumped(
        1, type=["integer", "null"], enum=[1, 2, None], values_display={"1": "One", "null": "Nothing"}
    )
    assert form_fields({"p": in_memory})[0].options == (
        ("1", "One"),
        ("2", "2"),
        ("null", "None (clear selection)"),
    )
    assert form_fields({"p": stored})[0].options == (("1", "One"), ("2", "2"), ("null", "Nothing"))
    [field] = form_fields(
        {"p": dumped("InterfaceA", enum=["InterfaceA"], values_display={"InterfaceA": "Interface A"})}
    )
    assert field.options == (('"InterfaceA"', "Interface A"),)
    [listed] = form_fields({"p": dumped([2], enum=[[2], 3], values_display={"3": "Three"})})
    assert listed.options == (("[2]", "[2]"), ("3", "Three"))


def test_a_const_param_is_left_out_of_the_form_and_its_value_applies():
    params = {"secret": dumped("constant value", const="constant value"), "n": dumped(1, type="integer")}
    assert [field.name for field in form_fields(params)] == ["n"]
    found = read_form(params, {"param.n": "2", "conf": "", "logical_date": ""})
    assert (found.conf, found.errors) == ({"n": 2}, {})


def test_an_input_is_labelled_with_its_params_title():
    [field] = form_fields({"most_loved_number": dumped(42, type="integer", title="Your favorite number")})
    assert field.title == "Your favorite number"


def test_each_invalid_input_gets_its_own_error_and_the_valid_ones_their_value():
    params = {"n": dumped(1, type="integer", minimum=0), "s": dumped("a", type="string", maxLength=2)}
    found = read_form(params, {"param.n": "-1", "param.s": "ok", "conf": "", "logical_date": ""})
    assert set(found.errors) == {"n"} and "less than the minimum of 0" in found.errors["n"]
    assert found.conf == {"s": "ok"}


def test_a_multi_type_input_is_json_of_one_of_its_types_or_else_the_text_when_string_is_one():
    batch_size = dumped(1000, type=["integer", "string"])
    assert (read_value(batch_size, "500"), read_value(batch_size, "all")) == (500, "all")
    assert read_value(batch_size, "1.5") == "1.5"  # JSON, but a number is not one of its types
    pipeline = dumped("nightly", type=["string", "object"])
    assert read_value(pipeline, '{"retries": 3}') == {"retries": 3}
    assert read_value(pipeline, "nightly-export") == "nightly-export"
    assert read_value(dumped(True, type=["boolean", "string"]), "false") is False
    with pytest.raises(ValueError, match="not valid JSON"):
        read_value(dumped(1, type=["integer", "object"]), "hello")


def test_a_json_input_is_one_line_when_every_type_of_its_param_is_a_scalar():
    fields = form_fields(
        {
            "limit": dumped(500, type=["integer", "string"]),
            "target": dumped("x", type=["string", "object"]),
            "rows": dumped([1], type="array"),
        }
    )
    assert {f.name: (f.kind, f.one_line) for f in fields} == {
        "limit": ("json", True),
        "target": ("json", False),
        "rows": ("json", False),
    }


def test_a_multi_type_string_default_shows_as_text_unless_it_would_read_back_as_another_type():
    [field] = form_fields({"destination": dumped("reports.summary", type=["string", "object"])})
    assert field.text == "reports.summary"
    assert shown_text(dumped("500", type=["integer", "string"]), "500") == '"500"'


SCHEMAS_AND_VALUES = st.one_of(
    st.tuples(st.just({"type": "integer"}), st.integers()),
    st.tuples(st.just({"type": "number"}), st.floats(allow_nan=False, allow_infinity=False)),
    st.tuples(st.just({"type": "string"}), st.text()),
    st.tuples(st.just({"type": "boolean"}), st.booleans()),
    st.tuples(st.just({"enum": ["a", 1, None, [2]]}), st.sampled_from(["a", 1, None, [2]])),
    st.tuples(st.just({"type": ["integer", "string"]}), st.one_of(st.integers(), st.text())),
    st.tuples(
        st.just({"type": ["string", "object", "null"]}),
        st.one_of(st.text(), st.none(), st.dictionaries(st.text(), st.integers())),
    ),
    st.tuples(
        st.just({"type": "array"}),
        st.lists(st.one_of(st.integers(), st.text(), st.none(), st.dictionaries(st.text(), st.booleans()))),
    ),
)


@given(SCHEMAS_AND_VALUES)
def test_a_value_shown_in_its_input_reads_back_as_the_same_value(schema_and_value):
    schema, value = schema_and_value
    param = dumped(value, **schema)
    assert read_value(param, shown_text(param, value)) == value
