"""Files `gradcheck init --ci …` writes: a config plus what each CI system needs."""

from __future__ import annotations

CONFIG = """\
# gradcheck homework config: `gradcheck run` runs every [[check]] and reports a score.
seed = 0            # random points are seeded; the seed is printed in every report
trials = 2          # random points per check
convention = "either"   # "shape": claims must be in shape convention (the variable's shape)
# submission = "submission"   # students' files: regular files inside this directory only

[[check]]
name = "score gradients"
file = "questions/score.grad"     # graph + the student's claims
# question = "handout/score.grad" # grade against the handout: its graph kept, its TODO claims answered
points = 5

# [[check]]
# name = "numpy implementation"
# file = "questions/score.grad"
# impl = "submission/hw.py:forward_backward"   # runs in a subprocess with a timeout
# points = 5
# timeout = 30
"""

QUESTION = """\
# s = uᵀ f(W x + b): write the gradients below (replace the claims)
dims n = 4, m = 6
W : n x m
x : m
b : n
u : n
f = tanh
z = W x + b
h = f(z)
s = u^T h

delta = u * (1 - h^2)
claim ds/dW = delta x^T
claim ds/db = delta
"""

GITHUB = """\
name: gradcheck
on: [push, pull_request]
jobs:
  gradients:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pip install gradcheck-cli
      - name: Check gradients
        run: |
          gradcheck run --format github
          gradcheck run --format junit --output gradcheck-junit.xml
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: gradcheck-junit
          path: gradcheck-junit.xml
"""

CLASSROOM = """\
name: Autograding Tests
on: [push, repository_dispatch]
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pip install gradcheck-cli
      - name: gradients
        id: gradients
        # gradcheck's Classroom JSON carries per-check points; the reporter reads it from this output
        run: echo "result=$(gradcheck run --format classroom | base64 -w0)" >> "$GITHUB_OUTPUT"
      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
          GRADIENTS_RESULTS: "${{ steps.gradients.outputs.result }}"
        with:
          runners: gradients
"""

GRADESCOPE_RUN = """\
#!/usr/bin/env bash
# Gradescope autograder: the submission is in /autograder/submission
cd /autograder/source
cp /autograder/submission/*.py submission/ 2>/dev/null || true
cp /autograder/submission/*.grad questions/ 2>/dev/null || true
gradcheck run --format gradescope --output /autograder/results/results.json || true
"""

GRADESCOPE_SETUP = """\
#!/usr/bin/env bash
set -e
apt-get update
apt-get install -y python3 python3-pip
pip3 install gradcheck-cli
"""

PRECOMMIT = """\
repos:
  - repo: https://github.com/gradcheck/gradcheck
    rev: v0.1.0
    hooks:
      - id: gradcheck-verify
"""

TEMPLATES: dict[str, dict[str, str]] = {
    "github": {"gradcheck.toml": CONFIG, "questions/score.grad": QUESTION,
               ".github/workflows/gradcheck.yml": GITHUB},
    "classroom": {"gradcheck.toml": CONFIG, "questions/score.grad": QUESTION,
                  ".github/workflows/classroom.yml": CLASSROOM},
    "gradescope": {"gradcheck.toml": CONFIG, "questions/score.grad": QUESTION,
                   "run_autograder": GRADESCOPE_RUN, "setup.sh": GRADESCOPE_SETUP},
    "pre-commit": {".pre-commit-config.yaml": PRECOMMIT, "questions/score.grad": QUESTION},
}
