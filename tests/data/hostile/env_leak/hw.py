"""Puts the grader's environment into the report: the child's environment is scrubbed."""
import os

raise RuntimeError("GRADER_SECRET=" + os.environ.get("GRADER_SECRET", "<not set>")
                   + " HOME=" + os.environ.get("HOME", ""))
