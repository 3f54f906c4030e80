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

"""dinov3-seg-bench-cache: bad counts are one error line and exit 2, before any model is built."""

import pytest

from dinov3_seg_ros.cli import bench_cache


@pytest.mark.parametrize('option', [['--target-size', '-5'], ['--warmup', '-1'],
                                    ['--classes', '1'], ['--batch-size', '0']])
def test_bad_counts_are_one_line_and_exit_2(capsys, option):
    assert bench_cache.main(option + ['-q']) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('error:') and option[0] in err and len(err.splitlines()) == 1
