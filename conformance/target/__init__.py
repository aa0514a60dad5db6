"""Talking to the system under test: the profile, the HTTP client and its recorded exchanges,
secret masking, the OTP/balance/clock hooks, the points budget and undo log, and reading
business codes out of answers.
"""
