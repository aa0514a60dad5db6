"""Process-wide plumbing every layer may use: the interrupt flag and the AST-build guard.
"""
