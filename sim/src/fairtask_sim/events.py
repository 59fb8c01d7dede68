"""Event kinds, their priorities within one instant, and task states: plain ints, because
millions of them go through the heap as tuple fields."""

# Event kinds.
K_WINDOW, K_WANT_ON, K_WANT_OFF, K_OUTAGE_START, K_OUTAGE_END = 0, 1, 2, 3, 4
K_ARRIVAL, K_BURST, K_RESPONSE, K_COMPLETE, K_GRACE_END, K_CANCEL = 5, 6, 7, 8, 9, 10
K_SAMPLE, K_DECIDE = 11, 12
# At one instant: presence changes, then task events, then the sample, then the round.
P_PRESENCE, P_TASK, P_SAMPLE, P_DECIDE = 0, 1, 5, 9
# Task states.
QUEUED, OFFERED, LEASED, DONE, CANCELLED = 0, 1, 2, 3, 4
# Queued here, but the policy dropped it after its deadline passed (the contract has no call
# for that, so it shows when a cancel is refused): a deadline miss, not a lost task.
EXPIRED = 5
# Queued here, unknown to the policy, deadline not passed: the policy lost it.
LOST = 6
# A worker's reaction to an offer.
R_ACCEPT, R_DECLINE, R_EXPIRE = 0, 1, 2
