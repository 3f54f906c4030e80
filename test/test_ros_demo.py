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

"""dinov3-seg-demo end to end (small settings), its failure path and the bench helpers."""

import os
import subprocess
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.core.overlay import draw_banner
from dinov3_seg_ros.ros import node_process
from dinov3_seg_ros.ros_tools import bench, bench_closed_loop, bench_multi_camera, bench_stages
from dinov3_seg_ros.ros_tools import demo, image_publisher
from dinov3_seg_ros.ros_tools.domain import resolve_domain_id, tool_environment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ['--size', '160x120', '--input-size', '64', '--backbone', 'vits16', '--device', 'cpu']


def _demo(args, tmp_path, timeout=240, domain_id=None):
    env = dict(os.environ)
    env.pop('ROS_DOMAIN_ID', None)  # unset: the demo picks its own private domain
    if domain_id is not None:
        env['ROS_DOMAIN_ID'] = domain_id
    return subprocess.run([sys.executable, '-m', 'dinov3_seg_ros.ros_tools.demo', *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_node_command_overrides_only_given_values():
    args = demo.build_parser().parse_args(['--input-size', '64', '--device', 'cpu'])
    command = node_process.node_command(args.params_file, demo.node_overrides(args))
    assert command[command.index('--params-file') + 1].endswith(
        os.path.join('config', 'segmentation.yaml'))
    overrides = [command[i + 1] for i, arg in enumerate(command) if arg == '-p']
    assert overrides == ['input_size:=64', 'device:=cpu']
    # --head-weights takes several paths like every CLI: one comma-separated parameter value
    args = demo.build_parser().parse_args(['--head-weights', 'a.pth', 'b.pth',
                                           '--head-weights', 'c.pth'])
    command = node_process.node_command(args.params_file, demo.node_overrides(args))
    assert [command[i + 1] for i, arg in enumerate(command) if arg == '-p'] == [
        'head_weights:=a.pth,b.pth,c.pth']


def test_report_of_one_frame_gives_its_latency_and_no_rate():
    one = SimpleNamespace(received_at=[10.0], latencies_ms=[812.4])
    line = demo.report(one)
    assert line == ('1 frame: latency (camera stamp -> overlay received) 812 ms; '
                    'no frame rate from a single frame (use --frames 2 or more)')
    three = SimpleNamespace(received_at=[10.0, 11.0, 12.0], latencies_ms=[900, 800, 700])
    assert demo.report(three).startswith('3 frames: 1.00 fps received, latency')


@pytest.mark.parametrize('parser', [demo.build_parser, image_publisher.build_parser,
                                    bench.build_parser, bench_multi_camera.build_parser])
def test_every_option_help_states_its_default(parser):
    parser = parser()
    undocumented = [action.option_strings or action.dest for action in parser._actions
                    if action.dest != 'help' and 'default' not in (action.help or '')]
    assert not undocumented
    text = parser.format_help()
    for action in parser._actions:
        if isinstance(action.default, (int, float, str)) and '%(default)' in action.help:
            assert f'default: {action.default}' in ' '.join(text.split()), action.dest


def test_ros_environment_is_loopback_with_the_shm_profile(monkeypatch):
    for key in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE',
                'FASTDDS_DEFAULT_PROFILES_FILE'):
        monkeypatch.delenv(key, raising=False)
    environment = node_process.ros_environment(domain_id=57)
    assert environment['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    assert os.environ['ROS_DOMAIN_ID'] == '57'
    assert os.path.samefile(environment['FASTDDS_DEFAULT_PROFILES_FILE'],
                            os.path.join(ROOT, 'config', 'fastdds_shm_localhost.xml'))


def test_bench_helpers(tmp_path):
    msg = bench_closed_loop.camera_frame('64x48')
    assert (msg.width, msg.height, msg.encoding, len(msg.data)) == (64, 48, 'rgb8', 64 * 48 * 3)
    assert bench_closed_loop.node_rss_kib(os.getpid()) > 1000
    args = bench.build_parser().parse_args(['--backbone', 'vits16'])
    params = bench_stages.node_params(args.params_file, bench.node_overrides(args, '96'))
    assert (params.backbone, params.input_size) == ('vits16', '96')
    assert params.model_config().backbone == 'vits16'


def test_bench_params_file_errors_are_one_config_error(tmp_path):
    path = tmp_path / 'params.yaml'
    path.write_text('/**:\n  ros__parameters:\n    use_sim_time: true\n'
                    '    class_names: [a]\n    backbone: vits16\n')
    params = bench_stages.node_params(str(path), {'input_size': '96'})  # undeclared: ignored
    assert (params.backbone, params.input_size) == ('vits16', '96')
    for text in ('a: [', 'x: 1\n', None):
        if text is not None:
            path.write_text(text)
        name = str(path) if text is not None else str(tmp_path / 'missing.yaml')
        with pytest.raises(ConfigError, match='params file'):
            bench_stages.node_params(name, {})


def test_domain_id_option_then_environment_then_private(monkeypatch):
    monkeypatch.setenv('ROS_DOMAIN_ID', '33')
    assert resolve_domain_id(None) == 33
    assert resolve_domain_id(5) == 5  # --domain-id wins
    assert tool_environment(None)['ROS_DOMAIN_ID'] == '33'
    for unset in ('', ' '):
        monkeypatch.setenv('ROS_DOMAIN_ID', unset)
        assert resolve_domain_id(None) is None
        assert 120 <= int(tool_environment(None)['ROS_DOMAIN_ID']) < 210  # private default
    monkeypatch.delenv('ROS_DOMAIN_ID')
    assert resolve_domain_id(None) is None
    monkeypatch.setenv('ROS_DOMAIN_ID', 'seven')
    with pytest.raises(ConfigError, match="ROS_DOMAIN_ID='seven' is not an integer"):
        resolve_domain_id(None)
    with pytest.raises(ConfigError, match='--domain-id 233 is outside 0..232'):
        resolve_domain_id(233)


def test_bench_domain_id_option_and_bad_environment(tmp_path):
    assert bench.build_parser().parse_args(['--domain-id', '17']).domain_id == 17
    assert bench.build_parser().parse_args([]).domain_id is None
    env = {**os.environ, 'ROS_DOMAIN_ID': 'seven'}
    result = subprocess.run([sys.executable, '-m', 'dinov3_seg_ros.ros_tools.bench', '--frames',
                             '0', '--stage-frames', '1'], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2  # bad input, before anything is measured
    assert result.stderr.strip().splitlines() == [
        "dinov3-seg-ros-bench: ROS_DOMAIN_ID='seven' is not an integer"]


@pytest.mark.parametrize('argv,message', [
    (['--frames', '0'], "argument --frames: must be >= 1, got '0'"),
    (['--rate', '-2'], "argument --rate: must be > 0, got '-2'"),
    (['--size', '640'], "argument --size: expected WxH like 640x480, got '640'"),
    (['--timeout', 'never'], "argument --timeout: expected a number, got 'never'")])
def test_demo_bad_numbers_are_usage_errors_naming_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:  # before any process starts
        demo.main(argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f'dinov3-seg-demo: error: {message}'


def test_demo_bad_paths_are_one_line_before_any_process_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(os, 'environ', dict(os.environ))  # the demo exports DDS settings
    monkeypatch.setattr(demo, 'start', lambda *a: pytest.fail('a process started'))
    a_file = tmp_path / 'taken'
    a_file.write_text('')
    cases = ((['--out-dir', str(a_file)], f"--out-dir '{a_file}' is a file; name a folder"),
             (['--out-dir', '/proc/no/such'], "--out-dir '/proc/no/such' cannot be created: "),
             (['--params-file', str(tmp_path / 'nope.yaml'), '--out-dir', str(tmp_path / 'o')],
              f"--params-file '{tmp_path / 'nope.yaml'}' does not exist; give a node "),
             (['--params-file', str(tmp_path), '--out-dir', str(tmp_path / 'o')],
              f"--params-file '{tmp_path}' is a folder"),
             (['--images', str(tmp_path / 'o'), '--out-dir', str(tmp_path / 'o')],
              f'--images: no image files in folder: {tmp_path / "o"}'),
             (['--images', str(tmp_path / 'cat.png'), '--out-dir', str(tmp_path / 'o')],
              f'--images: no such file or folder: {tmp_path / "cat.png"}'))
    for argv, message in cases:
        assert demo.main(argv) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith(f'dinov3-seg-demo: {message}'), err


def test_ros_bench_with_nothing_to_measure_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(['--frames', '0', '--stage-frames', '0'])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        'dinov3-seg-ros-bench: error: nothing to measure: --frames, --stage-frames and '
        '--rss-frames are all 0')
    with pytest.raises(SystemExit):
        bench.main(['--rss-size', '1x'])
    assert "argument --rss-size: expected WxH" in capsys.readouterr().err


@pytest.mark.ros
def test_demo_reports_a_dying_node(tmp_path):
    result = _demo([*SMALL, '--frames', '1', '--backbone-weights',
                    str(tmp_path / 'missing.pth'), '--out-dir', 'out', '--timeout', '120'],
                   tmp_path, domain_id=os.environ['ROS_DOMAIN_ID'])
    assert result.returncode == 1
    # the exported ROS_DOMAIN_ID is honoured (not replaced by a private one)
    assert f'ROS_DOMAIN_ID={os.environ["ROS_DOMAIN_ID"]},' in result.stdout
    assert 'segmentation_node exited with code' in result.stderr
    assert 'missing.pth' in result.stderr
    assert not list((tmp_path / 'out').glob('overlay_*.png'))


@pytest.mark.ros
@pytest.mark.slow
def test_demo_saves_overlays(tmp_path):
    result = _demo([*SMALL, '--frames', '2', '--rate', '2', '--out-dir', 'out'], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    domain = int(result.stdout.split('ROS_DOMAIN_ID=')[1].split(',')[0])
    assert 120 <= domain < 210  # unset: a private domain
    for index in range(2):
        overlay = cv2.imread(str(tmp_path / 'out' / f'overlay_{index:03d}.png'))
        labels = cv2.imread(str(tmp_path / 'out' / f'labels_{index:03d}.png'),
                            cv2.IMREAD_UNCHANGED)
        assert overlay is not None and overlay.shape == (120, 160, 3)
        assert labels is not None and labels.shape == (120, 160)
        assert overlay.std() > 5  # a real picture, not a blank frame
    assert 'fps received' in result.stdout and 'latency' in result.stdout
    # random weights: the core's red 'UNTRAINED WEIGHTS' bar covers the top rows exactly
    banner = draw_banner(np.zeros((120, 160, 3), np.uint8))
    rows = int(np.argmax(~banner.any(axis=(1, 2))))
    assert rows > 5 and (banner[:rows] == 255).all(axis=2).any()  # white text on the bar
    saved = cv2.cvtColor(cv2.imread(str(tmp_path / 'out' / 'overlay_000.png')),
                         cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(saved[:rows], banner[:rows])
