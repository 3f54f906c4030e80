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

"""dinov3-seg-bag: segment every camera frame of a recording into a new rosbag2.

Reads a rosbag2 folder (sqlite3 or mcap), a bare .mcap or a ROS 1 .bag, segments every
frame of the image topics (--topics; default every Image/CompressedImage topic not under a
segmentation/ namespace) in bag order, batch by batch, and writes a rosbag2 (mcap unless
--storage sqlite3) with the input's topics unchanged (unless --outputs-only) plus, for an
image topic <ns>/<name> or <ns>/<name>/compressed, what the node publishes for it:
<ns>/segmentation/labels and the --outputs chosen, each stamped with its frame's header and
logged at its frame's log time.
"""

import argparse
import os
import signal
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from dinov3_seg_ros.cli.common import add_model_arguments, add_overlay_arguments
from dinov3_seg_ros.cli.common import add_verbosity_arguments, model_config_from_args
from dinov3_seg_ros.cli.common import run_cli, setup_logging
from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.ros.output_messages import OUTPUT_NAMES
from dinov3_seg_ros.ros_tools import bag_io
from dinov3_seg_ros.ros_tools.bag_topics import Camera, check_no_clash, choose_cameras

OUTPUTS = (*OUTPUT_NAMES, 'camera_info')
DEFAULT_OUTPUTS = 'labels,overlay/compressed,camera_info'


def add_bag_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the model and overlay options (those of dinov3-seg-infer) and --batch."""
    add_model_arguments(parser)
    add_overlay_arguments(parser)
    parser.add_argument('--batch', type=int, default=4,
                        help='frames per Segmenter.segment_batch call (default: %(default)s)')


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of dinov3-seg-bag."""
    parser = argparse.ArgumentParser(prog='dinov3-seg-bag',
                                     description=__doc__.split('\n\n', 1)[1])
    parser.add_argument('bag', metavar='IN',
                        help='rosbag2 folder, .mcap or .db3 file, or ROS 1 .bag')
    parser.add_argument('--out', required=True, metavar='OUT', help='output rosbag2 folder')
    parser.add_argument('--topics', action='append', default=[], metavar='TOPIC[,TOPIC]',
                        help='image topics to segment (default: every camera image topic)')
    parser.add_argument('--outputs', default=DEFAULT_OUTPUTS,
                        help=f'outputs per camera, comma-separated, from {", ".join(OUTPUTS)} '
                             '(labels always; heads = heads/<name>/labels of every extra '
                             'head) (default: %(default)s)')
    parser.add_argument('--outputs-only', action='store_true',
                        help='write only the segmentation topics, not the input topics')
    parser.add_argument('--storage', default='mcap', choices=sorted(bag_io.STORAGES),
                        help='storage of the output bag (default: %(default)s)')
    parser.add_argument('--overwrite', action='store_true', help='replace OUT if it exists')
    add_bag_model_arguments(parser)
    add_verbosity_arguments(parser)
    return parser


def parse_outputs(value: str) -> List[str]:
    """'labels,overlay/compressed' -> checked output names (labels always included)."""
    names = [name.strip() for name in value.split(',') if name.strip()]
    unknown = [name for name in names if name not in OUTPUTS]
    if unknown:
        raise ConfigError(f'--outputs: unknown {", ".join(unknown)} (choose from '
                          f'{", ".join(OUTPUTS)})')
    return list(dict.fromkeys(['labels', *names]))


def _topics(values: Sequence[str]) -> List[str]:
    return [topic.strip() for value in values for topic in value.split(',') if topic.strip()]


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM: clean up like Ctrl-C


def _main(argv: Optional[Sequence[str]]) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose - args.quiet)
    config = model_config_from_args(args)
    outputs = parse_outputs(args.outputs)
    if args.batch < 1:
        raise ConfigError(f'--batch must be >= 1, got {args.batch}')
    reader = bag_io.open_reader(args.bag)
    try:
        types = {topic: info.msgtype for topic, info in reader.topics.items()}
        cameras = choose_cameras(types, _topics(args.topics))
        kept = [] if args.outputs_only else list(types)
        check_no_clash(cameras, kept)
        bag_io.check_output(args.out, args.overwrite, args.bag)
        from dinov3_seg_ros.core.segmenter import Segmenter  # torch: after the cheap checks
        segmenter = Segmenter(config)
        previous = signal.signal(signal.SIGTERM, _terminate)
        started = time.perf_counter()
        staged = bag_io.StagedBag(args.out, args.storage, args.overwrite, args.bag)
        try:
            frames = _run(reader, staged, segmenter, cameras, outputs, kept, args)
            staged.commit()
        except BaseException:
            staged.discard()
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        reader.close()
    _summary(frames, cameras, time.perf_counter() - started, args)
    return 0


def _run(reader: Any, staged: Any, segmenter: Any, cameras: List[Camera],
         outputs: List[str], kept: List[str], args: argparse.Namespace) -> Any:
    """Read the bag in order, queue copies and frames, flush the last batch."""
    from tqdm import tqdm
    from dinov3_seg_ros.ros_tools.bag_frames import BagFrames
    by_topic: Dict[str, Camera] = {cam.topic: cam for cam in cameras}
    infos = {cam.camera_info for cam in cameras} if 'camera_info' in outputs else set()
    kept_topics = set(kept)
    copied = bag_io.copy_connections(
        reader, staged.writer, [c for c in reader.connections if c.topic in kept_topics])
    converters = {c.id: bag_io.cdr_converter(reader, c.msgtype) for c in reader.connections
                  if c.topic in by_topic or c.topic in infos}
    total = sum(reader.topics[topic].msgcount for topic in by_topic)
    with tqdm(total=total, unit='frame', dynamic_ncols=True, disable=args.quiet > 0,
              file=sys.stderr) as bar:
        frames = BagFrames(segmenter, staged.writer, bag_io.typestore(), outputs, args.batch,
                           {'alpha': args.alpha, 'draw_labels': not args.no_names},
                           lambda: bar.update(1))
        for conn, log_time, raw in bag_io.read_messages(reader, args.bag):
            if conn.id in copied:
                out_conn, convert = copied[conn.id]
                frames.copy(out_conn, log_time, convert(raw))
            if conn.topic in by_topic:
                frames.frame(by_topic[conn.topic], log_time, converters[conn.id](raw))
            elif conn.topic in infos:
                frames.camera_info(conn.topic, converters[conn.id](raw))
        frames.flush()
    return frames


def _summary(frames: Any, cameras: List[Camera], wall_s: float,
             args: argparse.Namespace) -> None:
    """Print frames per topic, skipped frames and why, wall time, ms/frame, overhead."""
    done = sum(frames.segmented.values())
    skipped = sum(sum(reasons.values()) for reasons in frames.skipped.values())
    per_frame = wall_s * 1e3 / max(done, 1)
    model = frames.model_s * 1e3 / max(done, 1)
    print(f'wrote {os.path.abspath(args.out)} ({args.storage}): {done} frames segmented, '
          f'{skipped} skipped, in {wall_s:.1f} s ({per_frame:.1f} ms/frame: model '
          f'{model:.1f}, bag read/decode/encode/write {per_frame - model:.1f} = '
          f'{100 * (per_frame - model) / max(model, 1e-9):.1f}% of the model time)')
    for cam in cameras:
        outs = sorted(topic for topic in frames.written if topic.startswith(cam.output_topic('')))
        print(f'  {cam.topic}: {frames.segmented[cam.topic]} frames -> {", ".join(outs)}')
        for reason, count in sorted(frames.skipped[cam.topic].items()):
            print(f'    skipped {count}: {reason}')
    for topic, note in sorted(frames.notes.items()):
        print(f'  {topic}: {note}')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console-script entry point; returns the exit code."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    sys.exit(main())
