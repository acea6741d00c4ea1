"""The daemon's HTTP edge: one ladder of refusals for every way into ``/rpc``.

* :mod:`.ladder` -- sans-I/O: the refusals in the contract's order, written once; every door
  asks it, in the same order, with the parts of the request its parser gave it.
"""
