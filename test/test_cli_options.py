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

"""CLI model options come from the one table (core/options.py): spelling, help, aliases, errors."""

import argparse
import importlib

import pytest

from dinov3_seg_ros.cli import common, export, infer
from dinov3_seg_ros.cli.options import cli_help, cli_terms
from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.core.options import MODEL_OPTIONS, OPTIONS

CLIS = ('infer', 'export', 'bench', 'evaluate', 'bench_cache')
# flags of another concept that happen to share a model option's spelling
OWN = {('bench_cache', '--warmup'),  # untimed training steps, not model warm-up passes
       ('bench_cache', '--classes')}  # a class count, not a file


def _parser(name):
    return importlib.import_module(f'dinov3_seg_ros.cli.{name}').build_parser()


def _flags(parser):
    """{flag: argparse action} of every visible option string."""
    return {s: a for a in parser._actions for s in a.option_strings
            if a.help != argparse.SUPPRESS}


@pytest.mark.parametrize('cli', CLIS)
def test_every_model_flag_is_the_parameter_name_with_the_tables_description(cli):
    flags = _flags(_parser(cli))
    used = [spec for spec in MODEL_OPTIONS if spec.flag in flags and (cli, spec.flag) not in OWN]
    assert used, cli
    for spec in used:
        action = flags[spec.flag]
        assert action.dest == spec.name, spec.flag
        assert action.help.startswith(cli_help(spec.name)), spec.flag
        assert tuple(action.choices or ()) == spec.choices
    for old in ('--onnx', '--classes'):  # the old spellings are hidden aliases, if anything
        assert old not in flags or (cli, old) in OWN, (cli, old)


@pytest.mark.parametrize('cli', ['infer', 'export', 'bench'])
def test_head_weights_take_several_paths_after_one_flag_or_repeated(cli):
    parser = _parser(cli)
    extra = ['--out', 'x.onnx'] if cli == 'export' else (
        ['img.png', '--out-dir', 'o'] if cli == 'infer' else [])
    args = parser.parse_args(extra + ['--head-weights', 'a.pth', '--head-weights', 'b.pth',
                                      'c.pth'])
    assert args.head_weights == ['a.pth', 'b.pth', 'c.pth']
    assert parser.parse_args(extra).head_weights == []


def test_export_keeps_every_repeated_head(capsys, tmp_path):
    # used to keep only the last --head-weights and export one head, exit 0
    code = export.main(['--head-only', '--head-weights', 'a.pth', '--head-weights', 'b.pth',
                        '--out', str(tmp_path / 'head.onnx'), '-q'])
    assert code == 2
    assert capsys.readouterr().err.strip() == ('error: --head-only exports one head: give one '
                                               '--head-weights file')


@pytest.mark.parametrize('old, new, value', [('--onnx', 'onnx_model', 'm.onnx'),
                                             ('--classes', 'classes_file', 'names.txt')])
def test_old_spelling_still_works_and_warns_once(capsys, old, new, value):
    parser = infer.build_parser()
    args = parser.parse_args(['img.png', '--out-dir', 'o', old, value, old, value])
    assert getattr(args, new) == value
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'warning: {old} is deprecated and goes in the next release: use '
                   f'{OPTIONS[new].flag}']
    assert f'{old} ' not in parser.format_help().replace('[', ' ')  # hidden from the help


def test_onnx_help_lists_every_backend_that_takes_it():
    text = ' '.join(infer.build_parser().format_help().split())
    assert 'needs --backend onnxruntime)' not in text
    assert ('--onnx-model PATH Fused .onnx model written by dinov3-seg-export, or an OpenVINO '
            'IR .xml; the backends onnxruntime, openvino and auto take it') in text


def _infer_error(capsys, tmp_path, *argv):
    image = tmp_path / 'img.png'
    image.write_bytes(b'')  # never read: every error below comes before the images
    assert infer.main([str(image), '-q'] + list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'Traceback' not in err
    return err


def test_errors_name_the_flag_and_the_command_that_makes_the_file(capsys, tmp_path):
    out = ['--out-dir', str(tmp_path / 'o')]
    assert _infer_error(capsys, tmp_path, *out, '--backend', 'onnxruntime') == (
        'error: --onnx-model: the onnxruntime backend needs a fused .onnx file (write one with '
        'dinov3-seg-export)')
    missing = str(tmp_path / 'no.onnx')
    assert _infer_error(capsys, tmp_path, *out, '--onnx-model', missing) == (
        f'error: --onnx-model: {missing!r} not found: write one with dinov3-seg-export '
        '--out model.onnx')
    assert _infer_error(capsys, tmp_path, *out, '--onnx-model', str(tmp_path)) == (
        f'error: --onnx-model: {str(tmp_path)!r} is a directory: give the .onnx file (or '
        'OpenVINO .xml) that dinov3-seg-export wrote')
    model = tmp_path / 'm.onnx'
    model.write_bytes(b'')
    assert _infer_error(capsys, tmp_path, *out, '--backend', 'torch', '--onnx-model',
                        str(model)).startswith(f'error: --onnx-model {str(model)!r} needs '
                                               '--backend onnxruntime, openvino or auto')


def test_out_dir_naming_a_file_says_it_is_a_file(capsys, tmp_path):
    taken = tmp_path / 'out.png'
    taken.write_bytes(b'')
    err = _infer_error(capsys, tmp_path, '--out-dir', str(taken), '--backbone', 'vits16')
    assert err == (f'error: --out-dir: {str(taken)!r} is a file, not a folder: give a folder '
                   '(it is created if missing)')


def test_cli_terms_rename_only_a_leading_option_name():
    assert str(cli_terms(ConfigError('input_size: bad'))) == '--input-size: bad'
    assert str(cli_terms(ConfigError('threads: must be >= 0'))) == 'threads: must be >= 0'
    assert str(cli_terms(ConfigError("x: '/a/head_weights.pth'"))) == "x: '/a/head_weights.pth'"


def test_model_arguments_build_the_model_config():
    parser = argparse.ArgumentParser()
    common.add_model_arguments(parser, warmup=3)
    config = common.model_config_from_args(parser.parse_args(
        ['--head-weights', 'a.pth', 'b.pth', '--input-size', '64x48', '--dtype', 'float32']))
    assert config.head_weights == ('a.pth', 'b.pth') and config.warmup == 3
    assert str(config.input_size) == '64x48' and config.dtype == 'float32'


def test_core_config_errors_reach_the_user_in_flag_terms(capsys):
    def fail(argv):
        raise ConfigError("onnx_model: 'head.onnx' is a head-only model")
    assert common.run_cli(fail, []) == 2
    assert capsys.readouterr().err.strip() == ("error: --onnx-model: 'head.onnx' is a "
                                               'head-only model')


def test_descriptions_name_other_options_in_each_front_ends_terms():
    backend, weights = OPTIONS['backend'], OPTIONS['backbone_weights']
    assert 'needs onnx_model' in backend.text() and '{' not in backend.text()
    assert 'needs --onnx-model' in backend.text(cli=True)
    assert 'empty: random weights' in weights.text()
    assert 'not given: random weights' in weights.text(cli=True)
