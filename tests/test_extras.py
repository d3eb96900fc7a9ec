"""A missing optional package names the extra that brings it."""
import pytest

from retrieval.extras import MissingExtra, require

pytestmark = pytest.mark.unit


def test_an_installed_module_is_returned():
    assert require("json", "dev", "x").dumps([1]) == "[1]"


def test_a_missing_module_names_its_extra():
    with pytest.raises(MissingExtra, match=r"LLM_BASE_URL needs .*'no_such_pkg_for_test'.*pip install '\.\[llm\]'"):
        require("no_such_pkg_for_test.sub", "llm", "LLM_BASE_URL")
    assert issubclass(MissingExtra, RuntimeError)  # the command line reports it as `error: …`, exit 3
