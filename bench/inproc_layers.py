"""Where a local proxy call's overhead goes: each layer of the direct route timed alone.

Run: .venv/bin/python bench/inproc_layers.py [rounds]

Times, in nanoseconds per call (the minimum of interleaved rounds of 50,000 calls, so that a
busy machine slows every row alike), the layers of ``proxy.hello('x')`` through the ``local``
channel on its direct route (bench/README.md, "The local channel's direct route"): the proxy
method, the plan's guard, the client context, the dispatcher's runner; and, to say what the
runner and the context are made of, copies of the runner without one of its parts and the
primitives they use. It reads internals of this tree (the plan's direct route, the runner), so
unlike bench/inproc.py it measures this tree only.
"""

from __future__ import annotations

import sys
import time
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dependency_injector import containers, providers

from container import ServiceContainer, channel_of
from container.call._context import NO_METADATA, CallContext, Serving, new_client_context, serving_variable
from samples.hello.implementation import HelloServiceImpl
from samples.hello.interface import HelloService

NUMBER = 50_000


class Bench(containers.DeclarativeContainer):
    services = providers.Container(ServiceContainer, config={"registry": {"type": "static"}})
    hello = providers.Singleton(HelloServiceImpl)


def copies_of_the_runner(function: Any) -> dict[str, Any]:
    """The dispatcher's runner of a method without interceptors, and copies without one part each."""
    serving_set, serving_reset = serving_variable.set, serving_variable.reset
    active: list[None] = []

    def whole(context: CallContext, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        serving = Serving(context)
        active.append(None)
        token = serving_set(serving)
        try:
            return function(*args)
        finally:
            serving_reset(token)
            active.pop()

    def without_the_variable(context: CallContext, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        serving = Serving(context)
        active.append(None)
        try:
            return function(*args)
        finally:
            active.pop()
            del serving

    def without_serving(context: CallContext, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        active.append(None)
        token = serving_set(context)
        try:
            return function(*args)
        finally:
            serving_reset(token)
            active.pop()

    def without_in_flight(context: CallContext, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        serving = Serving(context)
        token = serving_set(serving)
        try:
            return function(*args)
        finally:
            serving_reset(token)

    return {
        "copy of the runner": whole,
        "... without the served call's context variable": without_the_variable,
        "... without the Serving record": without_serving,
        "... without the in-flight count": without_in_flight,
    }


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    manager = Bench().services.service_manager()
    impl = manager.get_service(HelloService)
    proxy = manager.proxy(HelloService, "local")
    assert proxy.hello("x") == impl.hello("x")
    plan = next(plan for method, plan in channel_of(proxy).plans.items() if method.name == "hello")
    run = plan._direct.run
    assert run is not None, "the local proxy takes the direct route"
    context = new_client_context(plan.timeout)
    timeout = plan.timeout
    args = ("x",)
    monotonic = time.monotonic
    rows: dict[str, Any] = {
        "empty lambda (loop floor)": lambda: None,
        "direct impl.hello('x')": lambda: impl.hello("x"),
        "proxy.hello('x')": lambda: proxy.hello("x"),
        "plan.call(args, kwargs)": lambda: plan.call(args, {}),
        "new_client_context(timeout)": lambda: new_client_context(timeout),
        "runner(context, args, kwargs)": lambda: run(context, args, {}),
        "time.monotonic()": lambda: monotonic(),
        "CallContext(...)": lambda: CallContext(NO_METADATA, 1.0, None, "", None, 1.0),
    }
    for label, copy in copies_of_the_runner(impl.hello).items():
        rows[label] = lambda copy=copy: copy(context, args, {})
    best = dict.fromkeys(rows, float("inf"))
    for _ in range(rounds):
        for label, statement in rows.items():
            best[label] = min(best[label], timeit.timeit(statement, number=NUMBER) / NUMBER * 1e9)
    floor, direct = best["empty lambda (loop floor)"], best["direct impl.hello('x')"]
    proxy_ns, plan_ns = best["proxy.hello('x')"], best["plan.call(args, kwargs)"]
    context_ns, runner_ns = best["new_client_context(timeout)"] - floor, best["runner(context, args, kwargs)"]
    copy = best["copy of the runner"]
    print(f"python {sys.version.split()[0]}, min of {rounds} interleaved rounds x {NUMBER:,} calls, ns per call")
    print("| measured | ns |")
    print("|---|---:|")
    for label, ns in best.items():
        print(f"| {label} | {ns:.0f} |")
    print()
    print("| layer of the local proxy's overhead | ns |")
    print("|---|---:|")
    layers = {
        "the proxy method (`*args, **kwargs`, the plan looked up by method)": proxy_ns - plan_ns,
        "`MethodPlan.call`: its frame, the direct route's guard, the deadline check": plan_ns
        - context_ns
        - runner_ns,
        "`new_client_context`: the clock, two context variables, a `CallContext`": context_ns,
        "the dispatcher's runner over the implementation": runner_ns - direct,
        "... of which the served call's context variable, set and reset": copy
        - best["... without the served call's context variable"],
        "... of which the `Serving` record": copy - best["... without the Serving record"],
        "... of which the in-flight count": copy - best["... without the in-flight count"],
        "local proxy overhead over the direct call": proxy_ns - direct,
    }
    for label, ns in layers.items():
        print(f"| {label} | {ns:.0f} |")
    print()
    print(f"local proxy overhead / loop floor: {(proxy_ns - direct) / floor:.1f}x [<= 20]")
    print(f"(time.monotonic(): {best['time.monotonic()'] - floor:.0f}, CallContext: {best['CallContext(...)'] - floor:.0f})")
    manager.close()


if __name__ == "__main__":
    main()
