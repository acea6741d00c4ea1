"""What the daemon and the console say to each other: the two processes' contract.

Declared once, below both, as the MT4 Web API document is (``mtgateway_base.mt4web``): the
signed records and their risk policy (``records``), the device API the daemon calls and its
answers (``api``), the device proofs that sign each call (``proofs``), the boxes that seal a
token's keys to one device (``boxes``), the token format (``tokens``), the books a report
names (``venues``), the report's values (``reports``) and the wire exceptions (``errors``). It
imports nothing of either process, so neither can reach into the other through it.

**Versioned as a protocol.** A daemon and a console of different releases meet (an owner
upgrades the daemon beside a terminal before the operator upgrades the console, or after), so
what each may change is written down here, and held by a test that runs this release's daemon
against the last release's console and the other way round
(``daemon/tests/e2e/test_release_compat.py``):

* *What would be misread is a new version, refused by name.* A signed record carries ``v``
  (:data:`~.records.RECORD_VERSION`) and is signed under a context naming it
  (:data:`~.records.RECORD_CONTEXT`); a device proof and a console's proof of its key have
  contexts of their own, and a sealed box its HKDF ``info``. Changing what any of them means is
  a new version: the other side refuses it (``bad_version``, a signature that does not verify),
  never reads it the old way.
* *The console may add to what it sends: a field a daemon may not know,* in a record or an
  answer, whose absence means what it meant before: ``risk.trading_halted`` (absent: not
  halted), ``instructions`` (absent: none), the report answer's ``live``. A daemon reads the
  fields it knows and leaves the others (``records._parse`` names each one it reads). A new
  kind of owner's instruction reaches an older daemon as one it settles ``refused``, naming the
  kind, so the owner sees why nothing happened. What only a newer daemon enforces is only as
  strong as the daemons reading it: the console says so where it offers it.
* *The daemon may add to what it sends only what the console said it takes.* The console's
  edge validates strictly (a field it does not know is refused, so nothing is half-read), so a
  daemon learns first: every answer to a report names the fields beyond the first release's
  that the console reads (``takes``: :data:`~.reports.TAKES`), and the daemon sends each only
  to a console that named it, from its next report on. A console that names none is older than
  the list and gets the first release's report. New fields are added to ``TAKES``, never
  renamed or dropped from it while a daemon may send them.
* *Neither removes or renames a field, an endpoint or a reason word* the other reads while a
  release that reads it is supported: it is added beside, and the old one goes a release later.
"""
