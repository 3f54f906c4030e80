# dinov3_seg_ros developer entry points. Every target builds .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# DDS stays on this machine: loopback discovery and a private domain for every run.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export ROS_DOMAIN_ID ?= 42
export RMW_IMPLEMENTATION := rmw_fastrtps_cpp
export FASTDDS_DEFAULT_PROFILES_FILE := $(CURDIR)/config/fastdds_shm_localhost.xml
export AMENT_PREFIX_PATH := $(CURDIR)/$(VENV)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: venv demo test lint docs bench bench-ros bench-cache clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt setup.py
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r requirements-test.txt
	$(VPY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/dinov3-seg-demo --frames 5 --out-dir demo_output

test: $(STAMP)
	$(VPY) -m pytest -q -p no:cacheprovider test

lint: $(STAMP)
	$(VPY) -m flake8 dinov3_seg_ros test launch setup.py doc/conf.py
	$(VPY) -m pydocstyle --convention=pep257 --add-ignore=D100,D104,D105,D107 dinov3_seg_ros

# User documentation (doc/, Markdown + myst-parser) as HTML in doc/_build/html; warnings fail.
docs: $(STAMP)
	$(VPY) -m sphinx -M html doc doc/_build -W --keep-going -q

bench: $(STAMP)
	$(VENV)/bin/dinov3-seg-bench --size 640x480 --backend torch --json
	$(VENV)/bin/dinov3-seg-bench --size 1920x1080 --backend torch --json
	$(VENV)/bin/dinov3-seg-bench --size 640x480 --backend onnxruntime --json

bench-ros: $(STAMP)
	$(VENV)/bin/dinov3-seg-ros-bench --size 640x480 --frames 20
	$(VENV)/bin/dinov3-seg-ros-bench --size 1920x1080 --frames 10
	$(VENV)/bin/dinov3-seg-ros-bench --frames 0 --stage-frames 0 --rss-frames 2000

bench-cache: $(STAMP)
	$(VENV)/bin/dinov3-seg-bench-cache

clean:
	rm -rf $(VENV) build install log demo_output *.egg-info doc/_build
