# Copyright 2026 The dinov3_seg_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""The package's import graph (every import, lazy ones in functions included) has no circle."""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = 'dinov3_seg_ros'


def _modules():
    """{module name: path} of every .py file in the package."""
    found = {}
    for folder, _, files in os.walk(os.path.join(ROOT, PACKAGE)):
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
                if parts[-1] == '__init__':
                    parts = parts[:-1]
                found['.'.join(parts)] = path
    return found


def _type_checking_only(tree):
    """Nodes under `if TYPE_CHECKING:` (never imported at run time)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and 'TYPE_CHECKING' in ast.dump(node.test):
            skipped.update(id(n) for n in ast.walk(node))
    return skipped


def imports_of(module, path, modules):
    """The package modules that module imports (absolute, relative, lazy or not)."""
    with open(path, encoding='utf-8') as stream:
        tree = ast.parse(stream.read(), path)
    is_package = path.endswith('__init__.py')
    skipped = _type_checking_only(tree)
    targets = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                anchor = module.split('.')
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = '.'.join(anchor + ([base] if base else []))
            # from a.b import c: the module a.b.c when it exists, else a.b itself
            names = [f'{base}.{alias.name}' if f'{base}.{alias.name}' in modules else base
                     for alias in node.names]
        else:
            continue
        targets.update(name for name in names if name in modules and name != module)
    return targets


def _graph():
    modules = _modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph):
    """Return one import circle as a list of modules ([] when there is none)."""
    state, stack = {}, []

    def visit(node):
        state[node] = 'open'
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 'open':
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 'done'
        return []
    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_the_graph_is_read_correctly():
    graph = _graph()
    assert 'dinov3_seg_ros.core.config' in graph['dinov3_seg_ros.core.options']
    assert 'dinov3_seg_ros.core.options' in graph['dinov3_seg_ros.ros.params']  # relative
    assert 'dinov3_seg_ros.benchmark.stages' in graph['dinov3_seg_ros.cli.bench']  # lazy
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': set()}) == []


def test_no_import_circle_in_the_package():
    cycle = find_cycle(_graph())
    assert not cycle, 'import circle: ' + ' -> '.join(cycle)


def test_benchmark_tooling_is_out_of_core_and_never_imports_cli():
    graph = _graph()
    assert not any(name.startswith(f'{PACKAGE}.cli.') for name in
                   set().union(*(graph[m] for m in graph if m.startswith(f'{PACKAGE}.benchmark'))))
    assert f'{PACKAGE}.core.flops' not in graph
    assert not os.path.exists(os.path.join(ROOT, PACKAGE, 'cli', 'bench_compare.py'))
