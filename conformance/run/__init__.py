"""Driving a run: the runner (options, target, preflight, pytest, exit code), the self-test and its
fault catalog.
"""
