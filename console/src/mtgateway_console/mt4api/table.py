"""The console's handlers of the MT4 Web API document, put to the document's one table.

The endpoints, their models, and why the console does not answer the terminal-level ones are
the table's (``mtgateway_base/mt4web/table.py``, the ``console`` column beside the daemon's);
here each endpoint the console answers gets its handler, by operation id. A row without a
handler, or a handler without a row, fails when this module is imported.
"""

from __future__ import annotations

from typing import Final

from mtgateway_base.mt4web import bind

from . import control, readings, users
from .dispatch import Endpoint

__all__ = ["ENDPOINTS"]

#: Every endpoint of the document (1-34), in its order, as the console serves it.
ENDPOINTS: Final[tuple[Endpoint, ...]] = bind("console", {
    "get_api_health": readings.health,
    "post_api_auth_login": control.login,
    "post_api_test_connect": control.connect,
    "post_api_test_disconnect": control.disconnect,
    "get_api_users": users.list_users,
    "get_api_users_login": users.get_user,
    "post_api_users": users.create_user,
    "put_api_users_login": users.change_user,
    "put_api_users_login_password": users.change_password,
    "post_api_accounts_login_deposit": users.deposit,
    "post_api_accounts_login_withdraw": users.withdraw,
    "post_api_accounts_login_credit": users.credit,
    "get_api_accounts_login_margin": readings.margin,
    "get_api_accounts_margins": readings.margins,
    "get_api_trades_open": readings.open_trades,
    "get_api_trades_open_login": readings.open_trades_of,
    "post_api_trades_history_login": readings.history,
    "get_api_groups": readings.groups,
    "get_api_groups_online": readings.online,
    "get_api_groups_name": readings.group,
    "post_api_admin_trades_lookup": readings.lookup,
    "post_api_admin_trades_by_group": readings.by_group,
    "post_api_admin_mail": control.mail,
    "post_api_admin_users_group_op": control.group_op,
    "get_api_server_config": readings.server_config,
})
