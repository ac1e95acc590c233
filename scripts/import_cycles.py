"""Fail when the package's modules import each other in a cycle.

Two graphs are checked, both built by grimp (which import-linter uses): the imports that run
(function-local ones included) and those plus the imports under ``if TYPE_CHECKING:``. A cycle
is a strongly connected component of more than one module; each is printed with its modules.

    python scripts/import_cycles.py          # exit 0: no cycle; 1: cycles printed
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import grimp

PACKAGE = "kkorthanc"


def cycles(graph: grimp.ImportGraph) -> Iterator[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    component = _pop_component(stack, on_stack, module)
                    if len(component) > 1:
                        yield sorted(component)
            elif target not in index:
                index[target] = low[target] = len(index)
                stack.append(target)
                on_stack.add(target)
                work.append((target, iter(sorted(graph.find_modules_directly_imported_by(target)))))
            elif target in on_stack:
                low[module] = min(low[module], index[target])


def _pop_component(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    component = []
    while True:
        module = stack.pop()
        on_stack.discard(module)
        component.append(module)
        if module == root:
            return component


def main() -> int:
    found = 0
    for label, skip_type_checking in (("at run time", True), ("under TYPE_CHECKING", False)):
        graph = grimp.build_graph(
            PACKAGE, exclude_type_checking_imports=skip_type_checking, cache_dir=None
        )
        for component in cycles(graph):
            found += 1
            print(f"import cycle {label} ({len(component)} modules): {', '.join(component)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
