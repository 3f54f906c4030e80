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

"""Every package.xml key resolves with rosdep (PyPI) offline against the rosdistro snapshot.

The recipe of ../shared/rosdistro/README.md: ROSDISTRO_INDEX_URL and the rosdep sources point at
the snapshot's files (file:// only, no network), ROSDEP_SOURCE_PATH and ROS_HOME are temporary.
Kilted and Jazzy on Ubuntu Noble; apt torch keys (the distribution's old build) fail the test.
"""

import os
import shutil
import subprocess
import sys
from typing import Dict, List, Optional

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SNAPSHOT = os.environ.get('DINOV3_SEG_ROSDISTRO',
                          os.path.join(ROOT, '..', 'shared', 'rosdistro'))
DISTROS = ('kilted', 'jazzy')
OS = 'ubuntu:noble'
APT_TORCH = {'python3-torch', 'python3-torchvision'}
ONNXRUNTIME = {'': set(), 'cpu': {'onnxruntime'}, 'gpu': {'onnxruntime-gpu'}}


def _rosdep_command() -> List[str]:
    for path in (os.path.join(os.path.dirname(sys.executable), 'rosdep'), shutil.which('rosdep')):
        if path and os.access(path, os.X_OK):
            return [path]
    pytest.skip('rosdep is not installed')


@pytest.fixture(scope='module')
def rosdep(tmp_path_factory):
    """Return run(args, **env) for rosdep with an updated cache of the snapshot (both distros)."""
    snapshot = os.path.abspath(SNAPSHOT)
    if not os.path.isfile(os.path.join(snapshot, 'index.yaml')):
        pytest.skip(f'rosdistro snapshot not available: {snapshot}')
    command = _rosdep_command()
    tmp = tmp_path_factory.mktemp('rosdep')
    sources = tmp / 'sources.list.d'
    sources.mkdir()
    (sources / '20-default.list').write_text(
        f'yaml file://{snapshot}/rosdep/base.yaml\nyaml file://{snapshot}/rosdep/python.yaml\n')
    env = {key: value for key, value in os.environ.items()
           # packages found there would be skipped as "installed"; the condition is set per test
           if key not in ('AMENT_PREFIX_PATH', 'ROS_PACKAGE_PATH', 'CMAKE_PREFIX_PATH',
                          'ROS_DISTRO', 'DINOV3_SEG_ONNXRUNTIME')}
    env.update(ROSDISTRO_INDEX_URL=f'file://{snapshot}/index.yaml',
               ROSDEP_SOURCE_PATH=str(sources), ROS_HOME=str(tmp / 'ros_home'))

    def run(args: List[str], **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(command + args, env={**env, **extra}, capture_output=True,
                              text=True, timeout=120)

    update = run(['update'])
    assert update.returncode == 0, update.stdout + update.stderr
    for distro in DISTROS:
        assert f'Add distro "{distro}"' in update.stdout
    return run


def package_keys(onnxruntime: str) -> List[str]:
    """Keys of every dependency of package.xml whose condition holds for the given choice."""
    from catkin_pkg.package import parse_package
    package = parse_package(os.path.join(ROOT, 'package.xml'))
    package.evaluate_conditions({'DINOV3_SEG_ONNXRUNTIME': onnxruntime})
    groups = (package.build_depends, package.buildtool_depends, package.build_export_depends,
              package.exec_depends, package.test_depends, package.doc_depends)
    return sorted({dep.name for group in groups for dep in group if dep.evaluated_condition})


def parse_resolve(output: str) -> Dict[str, Optional[tuple]]:
    """Parse `rosdep resolve` output: key -> (installer, packages), None if it had no rule."""
    rules: Dict[str, Optional[tuple]] = {}
    key, installer = None, None
    for line in output.splitlines():
        line = line.strip()
        if line.startswith('#ROSDEP[') and line.endswith(']'):
            key, installer = line[len('#ROSDEP['):-1], None
            rules[key] = None
        elif line.startswith('#') and key is not None:
            installer = line[1:]
        elif line and key is not None and installer is not None:
            rules[key] = (installer, tuple(line.split()))
    return rules


def resolve(rosdep, keys: List[str], distro: str) -> Dict[str, Optional[tuple]]:
    """Resolve keys for distro on Ubuntu Noble; unresolvable keys map to None."""
    result = rosdep(['resolve', *keys, '--rosdistro', distro, f'--os={OS}'])
    rules = parse_resolve(result.stdout)
    for key in keys:
        rules.setdefault(key, None)
    if result.returncode != 0:
        assert any(rule is None for rule in rules.values()), result.stderr
    return rules


def test_parse_resolve_reports_an_unresolvable_key(rosdep):
    rules = resolve(rosdep, ['python3-onnx', 'rclpy'], 'kilted')
    assert rules['python3-onnx'] is None
    assert rules['rclpy'] == ('apt', ('ros-kilted-rclpy',))


@pytest.mark.parametrize('distro', DISTROS)
def test_every_package_key_resolves(rosdep, distro):
    choices = {choice: package_keys(choice) for choice in ONNXRUNTIME}
    every_key = sorted(set().union(*choices.values()))
    rules = resolve(rosdep, every_key, distro)
    missing = sorted(key for key in every_key if rules[key] is None)
    assert missing == [], f'{distro}: keys without a rosdep rule: {missing}'
    for choice, keys in choices.items():
        assert 'rclpy' in keys and 'python3-pytorch-pip' in keys
        apt = {pkg for key in keys if rules[key][0] == 'apt' for pkg in rules[key][1]}
        pip = {pkg for key in keys if rules[key][0] == 'pip' for pkg in rules[key][1]}
        assert not apt & APT_TORCH, f'apt torch packages: {sorted(apt & APT_TORCH)}'
        assert {'torch', 'torchvision', 'timm'} <= pip
        assert pip & {'onnxruntime', 'onnxruntime-gpu'} == ONNXRUNTIME[choice], choice
        assert f'ros-{distro}-rclpy' in apt and 'rviz2' not in keys
        # the tests call flake8 / pydocstyle themselves, no ament linter
        assert not {'ament_copyright', 'ament_flake8', 'ament_pep257'} & set(keys)


@pytest.mark.parametrize('distro', DISTROS)
def test_readme_rosdep_install_simulates_cleanly(rosdep, distro, tmp_path):
    with open(os.path.join(ROOT, 'README.md')) as stream:
        readme = stream.read()
    assert 'rosdep install --from-paths src --ignore-src -y' in readme
    package_dir = tmp_path / 'src' / 'dinov3_seg_ros'
    package_dir.mkdir(parents=True)
    shutil.copy(os.path.join(ROOT, 'package.xml'), package_dir / 'package.xml')
    result = rosdep(['install', '--simulate', '--from-paths', str(tmp_path / 'src'),
                     '--ignore-src', '-y', '--rosdistro', distro, f'--os={OS}'],
                    DINOV3_SEG_ONNXRUNTIME='gpu')
    output = result.stdout + result.stderr
    # --simulate may exit 0 with missing keys: check the text too
    assert result.returncode == 0, output
    assert 'ERROR' not in output and 'Cannot locate' not in output, output
    lines = [line.split() for line in result.stdout.splitlines()]  # [sudo -H] apt-get install
    apt = {words[-1] for words in lines if 'apt-get' in words and 'install' in words}
    pip = {words[-1] for words in lines if 'pip3' in words and 'install' in words}
    assert f'ros-{distro}-vision-msgs' in apt and not apt & APT_TORCH
    assert {'torch', 'torchvision', 'timm', 'onnxruntime-gpu'} <= pip and 'onnxruntime' not in pip
