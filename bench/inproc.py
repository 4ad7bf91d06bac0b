"""In-process costs: a cached get_service, and a call through a "local" channel proxy.

Run: .venv/bin/python bench/inproc.py   (or `make bench`)

Prints, in nanoseconds per operation (best of 5 rounds of 200,000): a cached get_service, a
direct method call on the implementation, and the same call through a proxy of the "local"
channel, plus the proxy's overhead over the direct call, all measured in the same run.
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dependency_injector import containers, providers

from container import ServiceContainer
from samples.hello.implementation import HelloServiceImpl
from samples.hello.interface import HelloService

NUMBER = 200_000
ROUNDS = 5


class Bench(containers.DeclarativeContainer):
    services = providers.Container(ServiceContainer, config={"registry": {"type": "static"}})
    hello = providers.Singleton(HelloServiceImpl)


def best_ns(statement, number: int = NUMBER) -> float:
    return min(timeit.repeat(statement, number=number, repeat=ROUNDS)) / number * 1e9


def main() -> None:
    manager = Bench().services.service_manager()
    impl = manager.get_service(HelloService)
    proxy = manager.proxy(HelloService, "local")
    assert proxy.hello("x") == impl.hello("x")

    get_service = best_ns(lambda: manager.get_service(HelloService))
    empty = best_ns(lambda: None)
    direct = best_ns(lambda: impl.hello("x"))
    through_proxy = best_ns(lambda: proxy.hello("x"))

    print(f"python {sys.version.split()[0]}, best of {ROUNDS} x {NUMBER:,} calls, ns per call")
    print("| operation | ns | target |")
    print("|---|---:|---|")
    print(f"| empty lambda (loop floor) | {empty:.0f} | |")
    print(f"| cached get_service(HelloService) | {get_service:.0f} | < 2000 |")
    print(f"| direct impl.hello('x') | {direct:.0f} | |")
    print(f"| proxy.hello('x') via 'local' channel | {through_proxy:.0f} | |")
    print(f"| proxy overhead over direct call | {through_proxy - direct:.0f} | < 1000 |")


if __name__ == "__main__":
    main()
