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


"""Static checks of launch files: syntax-tree helpers, what setup.py installs, stub launch."""

import ast
import os
import runpy

import setuptools

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def calls(tree, name):
    """Every call of a function or method called name in tree."""
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, 'id', getattr(node.func, 'attr', None)) == name]


def keywords(call):
    """The keyword arguments of a call: {name: expression}."""
    return {kw.arg: kw.value for kw in call.keywords}


def strings(node):
    """String constants inside an expression, in source order."""
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)]


def setup_kwargs():
    """Keyword arguments setup.py passes to setuptools.setup (globs resolved in ROOT)."""
    captured = {}
    original_setup, original_cwd = setuptools.setup, os.getcwd()
    setuptools.setup = lambda **kwargs: captured.update(kwargs)
    try:
        os.chdir(ROOT)
        runpy.run_path(os.path.join(ROOT, 'setup.py'), run_name='__main__')
    finally:
        setuptools.setup = original_setup
        os.chdir(original_cwd)
    return captured


def configurations(tree):
    """Names read with LaunchConfiguration('<name>') (a constant) in tree."""
    return {call.args[0].value for call in calls(tree, 'LaunchConfiguration')
            if call.args and isinstance(call.args[0], ast.Constant)}


def declared_imports(tree):
    """Names the launch file imports from dinov3_seg_ros.ros.launch_arguments."""
    return {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            and node.module == 'dinov3_seg_ros.ros.launch_arguments' for alias in node.names}


def declared_names(tree, table):
    """Return the tuple of names the file passes to launch_arguments.declarations()."""
    uses = calls(tree, 'declarations')
    assert len(uses) == 1, 'the file declares its arguments with one declarations() call'
    assert {'declarations', uses[0].args[0].id} <= declared_imports(tree)
    return getattr(table, uses[0].args[0].id)


def fake_launch(monkeypatch):
    """Stub launch modules recording DeclareLaunchArgument / EnvironmentVariable arguments."""
    import sys
    import types

    class Recorded:
        def __init__(self, *args, **kwargs):
            self.args, self.kwargs = args, kwargs
    modules = {'launch': types.ModuleType('launch'),
               'launch.actions': types.ModuleType('launch.actions'),
               'launch.substitutions': types.ModuleType('launch.substitutions')}
    modules['launch.actions'].DeclareLaunchArgument = Recorded
    modules['launch.substitutions'].EnvironmentVariable = Recorded
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return Recorded
