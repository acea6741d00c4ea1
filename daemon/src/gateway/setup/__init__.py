"""``mtgateway setup``: one guided command from an installed gateway to a terminal a bot can
trade through (``command``): the terminals found (``found``), the EA compiled by their own
MetaEditor (``metaeditor``), the token in the EA's preset (``preset``), the owner's authority
(``pairing``), and what setup added, for a re-run and ``--undo`` (``record``).
"""
