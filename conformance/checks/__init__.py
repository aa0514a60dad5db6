"""Judging answers: one judge (JSON Schema and XSD), the fuzzing checks and the schemathesis engine
driver, and the link walk.
"""
