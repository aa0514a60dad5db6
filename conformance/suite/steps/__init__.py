"""The calls scenarios are made of, one module per API family.

- ``common``: answers, evidence and failure messages, customers and balances, amounts, the
  run's budget, the mutation guard.
- ``redemption``: points v1.1 (isredeemable, validationcode, redeem, OTP) and the v2 reversal.
- ``transfer``: points v2 customer and group transfers, transfer codes, history.
- ``goodwill``: the goodwill-points request workflow.

Every call records its evidence, and every points-moving call is booked against the run's
budget first.
"""
