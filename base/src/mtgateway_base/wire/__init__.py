"""What the daemon and the console say to each other: the two processes' contract.

Declared once, below both, as the MT4 Web API document is (``mtgateway_base.mt4web``): the
signed records and their risk policy (``records``), the device API the daemon calls and its
answers (``api``), the device proofs that sign each call (``proofs``), the boxes that seal a
token's keys to one device (``boxes``), the token format (``tokens``), the books a report
names (``venues``) and the wire exceptions (``errors``). It imports nothing of either process.
"""
