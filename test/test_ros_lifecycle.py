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

"""segmentation_lifecycle_node over real DDS: lifecycle_msgs services and the enable service.

One node process walks every transition: a failing configure (garbage head file), a
configure after the file is fixed, activate, the enable service, deactivate, cleanup,
a re-configure and shutdown (exit 0).
"""

import sys

from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
import pytest
from std_srvs.srv import SetBool

from ros_node_client import (CLASSES, NodeProcess, REPLY_S, ros_client, stamp_key, START_S,
                             write_head)
from test_ros_node import rgb_message, write_params

pytestmark = [pytest.mark.ros, pytest.mark.slow]

NODE = '/lc/segmentation'
LABELS = '/lc/segmentation/labels'
QUIET_S = 3.0  # how long 'no output' is watched


@pytest.fixture(scope='module')
def client():
    with ros_client('/lc_cam/image', NODE, {'lc_labels': LABELS}) as client:
        yield client


def state(client):
    return client.call(GetState, '/get_state', GetState.Request()).current_state.id


def change(client, transition):
    request = ChangeState.Request(transition=Transition(id=transition))
    return client.call(ChangeState, '/change_state', request, timeout=START_S).success


def silent(client, msg):
    """Publish msg and watch LABELS for QUIET_S: True if nothing answered it."""
    client.stamp(msg)
    client.publish(msg)
    key = stamp_key(msg.header)
    return not client.wait_until(lambda: client.find('lc_labels', key) is not None, QUIET_S)


def test_lifecycle_transitions_and_enable_service(tmp_path, client, photos):
    import cv2
    photo = cv2.resize(photos['chelsea'], (64, 48), interpolation=cv2.INTER_AREA)
    head = tmp_path / 'head.pth'
    head.write_bytes(b'not a checkpoint' * 10)
    params = write_params(tmp_path / 'params.yaml', str(head))
    process = NodeProcess(tmp_path, 'lifecycle', params, '-p', 'input_size:=64',
                          '-r', '__ns:=/lc', '-r', 'image:=/lc_cam/image',
                          command=[sys.executable, '-m', 'dinov3_seg_ros.ros.lifecycle_node'])
    try:
        assert state(client) == State.PRIMARY_STATE_UNCONFIGURED
        assert not change(client, Transition.TRANSITION_ACTIVATE)  # wrong state: refused
        assert not change(client, Transition.TRANSITION_CONFIGURE)  # garbage head file
        assert state(client) == State.PRIMARY_STATE_UNCONFIGURED
        lines = process.output().splitlines()
        assert any('Unable to start transition' in line for line in lines)  # rclpy says why
        errors = [line for line in lines if 'configure failed' in line]
        assert len(errors) == 1 and 'head.pth' in errors[0] and 'ERROR' in errors[0], lines

        write_head(head)  # fix the file: configure again
        assert change(client, Transition.TRANSITION_CONFIGURE), process.output()
        assert state(client) == State.PRIMARY_STATE_INACTIVE
        names = client.get_parameters(['class_names'])[0].string_array_value
        assert list(names) == CLASSES
        assert client.node.count_subscribers('/lc_cam/image') == 0
        assert silent(client, rgb_message(photo))  # configured, not active: no output

        assert change(client, Transition.TRANSITION_ACTIVATE)
        assert state(client) == State.PRIMARY_STATE_ACTIVE
        msg = rgb_message(photo)
        out = client.request(msg, ('lc_labels',), REPLY_S)
        assert (out['lc_labels'].width, out['lc_labels'].height) == (64, 48)

        reply = client.call(SetBool, '/enable', SetBool.Request(data=False))
        assert reply.success, reply.message
        assert client.get_parameters(['enabled'])[0].bool_value is False
        assert silent(client, rgb_message(photo))
        assert client.set_parameter('enabled', True).successful  # the same switch
        client.request(rgb_message(photo), ('lc_labels',), REPLY_S)
        assert client.call(SetBool, '/enable', SetBool.Request(data=False)).success
        assert client.call(SetBool, '/enable', SetBool.Request(data=True)).success
        assert client.get_parameters(['enabled'])[0].bool_value is True
        client.request(rgb_message(photo), ('lc_labels',), REPLY_S)

        assert change(client, Transition.TRANSITION_DEACTIVATE)
        assert state(client) == State.PRIMARY_STATE_INACTIVE
        assert client.node.count_subscribers('/lc_cam/image') == 0
        assert silent(client, rgb_message(photo))

        assert change(client, Transition.TRANSITION_CLEANUP)
        assert state(client) == State.PRIMARY_STATE_UNCONFIGURED
        assert client.node.count_publishers(LABELS) == 0  # publishers freed with the model
        assert change(client, Transition.TRANSITION_CONFIGURE)  # re-configure
        assert change(client, Transition.TRANSITION_ACTIVATE)
        client.request(rgb_message(photo), ('lc_labels',), REPLY_S)

        assert change(client, Transition.TRANSITION_ACTIVE_SHUTDOWN)
        code = process.proc.wait(60)
    finally:
        process.stop()
    output = process.output()
    assert code == 0, output
    assert 'Traceback' not in output


def test_launch_file_offers_the_managed_node_statically():
    import ast
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, 'launch', 'segmentation.launch.py')) as stream:
        tree = ast.parse(stream.read())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name)]
    from dinov3_seg_ros.ros import launch_arguments as table  # the file declares from the table
    assert {'lifecycle', 'autostart'} <= set(table.SINGLE_CAMERA)
    defaults = {name: table.ARGUMENTS[name].default for name in ('lifecycle', 'autostart')}
    assert (defaults['lifecycle'], defaults['autostart']) == ('false', 'true')
    managed = [{k.arg: k.value for k in c.keywords} for c in calls
               if c.func.id == 'LifecycleNode']
    assert len(managed) == 1 and managed[0]['executable'].value == 'segmentation_lifecycle_node'
    transitions = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                   and n.attr.startswith('TRANSITION_')}
    assert transitions == {'TRANSITION_CONFIGURE', 'TRANSITION_ACTIVATE'}
    with open(os.path.join(root, 'setup.py')) as stream:
        assert ("'segmentation_lifecycle_node = dinov3_seg_ros.ros.lifecycle_node:main'"
                in stream.read())
