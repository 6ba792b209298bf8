#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image.
set -e
apt-get update
apt-get install -y python3 python3-pip
python3 -m pip install gradcheck-cli
