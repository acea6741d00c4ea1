#!/usr/bin/env bash
# The README's curl lines, runnable, like the Python examples:
#   examples/curl.sh --state-file demo.json     (or: examples/curl.sh demo.json)
# The state file is what `mtgateway demo --state-file demo.json` writes; without one,
# $MTGATEWAY_STATE_FILE, then demo.json. With none of them readable, the token the demo
# tells you to export ($TOKEN, or $MTGATEWAY_TOKEN) and the daemon at $MTGATEWAY_URL
# (default http://127.0.0.1:8710). The tick and the bars are of the first symbol whose market
# is open now (the state file's open_symbols: on a weekend only BTCUSD; BTCUSD without a state
# file), so the quote shown is a live one, not Friday's last.
set -euo pipefail
usage="usage: examples/curl.sh [--state-file FILE | FILE]"
state=${MTGATEWAY_STATE_FILE:-demo.json}
named=
while [ $# -gt 0 ]; do
    case $1 in
        --state-file) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; state=$2; named=1; shift 2 ;;
        --state-file=*) state=${1#--state-file=}; named=1; shift ;;
        -h|--help) echo "$usage"; exit 0 ;;
        -*) echo "error: unknown option $1" >&2; echo "$usage" >&2; exit 2 ;;
        *) state=$1; named=1; shift ;;
    esac
done
field() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$state" "$1"
}
if [ -r "$state" ]; then
    url=$(field rpc_url)
    token=$(field token)
    health=$(field health_url)
    symbol=$(python3 -c 'import json,sys; print((json.load(open(sys.argv[1])).get("open_symbols")
or ["EURUSD"])[0])' "$state")
elif [ -z "$named" ] && [ -n "${TOKEN:-${MTGATEWAY_TOKEN:-}}" ]; then
    base=${MTGATEWAY_URL:-http://127.0.0.1:8710}
    base=${base%/}
    url=$base/rpc
    token=${TOKEN:-$MTGATEWAY_TOKEN}
    health=$base/health
    symbol=BTCUSD
else
    echo "error: no state file $state and no \$TOKEN: start \`mtgateway demo --state-file" \
         "$state\` first, or export the TOKEN=… line the demo prints" >&2
    exit 2
fi

curl -sf "$health"; echo
curl -sf "$url" -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
     -d '{"jsonrpc":"2.0","id":1,"method":"account_info"}'; echo
curl -sf "$url" -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
     -d '{"jsonrpc":"2.0","id":2,"method":"symbol_info_tick","params":{"symbol":"'"$symbol"'"}}'; echo
curl -sf "$url" -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
     -d '{"jsonrpc":"2.0","id":3,"method":"copy_rates_from_pos","params":["'"$symbol"'","TIMEFRAME_H1",0,3]}'; echo
