#!/usr/bin/env bash
# The README's curl lines, runnable: examples/curl.sh [STATE_FILE]   (default: demo.json)
# STATE_FILE is what `mtgateway demo --state-file demo.json` writes.
set -euo pipefail
state=${1:-demo.json}
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rpc_url"])' "$state")
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$state")
health=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["health_url"])' "$state")

curl -sf "$health"; echo
curl -sf "$url" -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
     -d '{"jsonrpc":"2.0","id":1,"method":"account_info"}'; echo
curl -sf "$url" -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
     -d '{"jsonrpc":"2.0","id":2,"method":"symbol_info_tick","params":{"symbol":"EURUSD"}}'; echo
curl -sf "$url" -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
     -d '{"jsonrpc":"2.0","id":3,"method":"copy_rates_from_pos","params":["EURUSD","TIMEFRAME_H1",0,3]}'; echo
