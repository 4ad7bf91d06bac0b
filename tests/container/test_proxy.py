"""Generated proxies look like the interface to isinstance, inspect, help and editors."""

import inspect
import pydoc

import pytest

from .services import CalculatorService


@pytest.fixture
def proxy(manager):
    return manager.proxy(CalculatorService, "local")


def test_isinstance_and_real_methods(proxy):
    """The proxy is an instance of the interface and its methods are real functions."""
    assert isinstance(proxy, CalculatorService)
    assert inspect.isfunction(type(proxy).add)
    assert "add" in vars(type(proxy))


def test_signature_and_docstring(proxy):
    """inspect.signature and the docstring are the interface's."""
    assert str(inspect.signature(proxy.add)) == "(a: 'int', b: 'int' = 1) -> 'int'"
    assert proxy.add.__doc__ == "Return a + b."
    assert "Return a + b." in pydoc.render_doc(proxy)


def test_repr_names_the_channel(proxy):
    """repr tells which channel carries the calls."""
    assert repr(proxy) == "<CalculatorServiceProxy via 'local'>"


def test_proxies_are_not_constructed_directly(proxy):
    """Constructing a proxy class directly is refused with an explanation."""
    with pytest.raises(TypeError, match="get_service"):
        type(proxy)()
