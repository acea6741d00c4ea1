#!/usr/bin/env bash
# The README's curl lines, runnable, like the Python examples:
#   examples/curl.sh --state-file demo.json     (or: examples/curl.sh demo.json)
# The state file is what `mtgateway demo --state-file demo.json` writes; without one,
# $MTGATEWAY_STATE_FILE, then demo.json. The tick and the bars are of the first symbol whose
# market is open now (the state file's open_symbols: on a weekend only BTCUSD), so the quote
# shown is a live one, not Friday's last.
set -euo pipefail
usage="usage: examples/curl.sh [--state-file FILE | FILE]"
state=${MTGATEWAY_STATE_FILE:-demo.json}
while [ $# -gt 0 ]; do
    case $1 in
        --state-file) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; state=$2; shift 2 ;;
        --state-file=*) state=${1#--state-file=}; shift ;;
        -h|--help) echo "$usage"; exit 0 ;;
        -*) echo "error: unknown option $1" >&2; echo "$usage" >&2; exit 2 ;;
        *) state=$1; shift ;;
    esac
done
if [ ! -r "$state" ]; then
    echo "error: no state file $state: start \`mtgateway demo --state-file $state\` first" >&2
    exit 2
fi
field() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$state" "$1"
}
url=$(field rpc_url)
token=$(field token)
health=$(field health_url)
symbol=$(python3 -c 'import json,sys; print((json.load(open(sys.argv[1])).get("open_symbols")
or ["EURUSD"])[0])' "$state")

curl -sf "$health"; echo
curl -sf "$url" -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
     -d '{"jsonrpc":"2.0","id":1,"method":"account_info"}'; echo
curl -sf "$url" -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
     -d '{"jsonrpc":"2.0","id":2,"method":"symbol_info_tick","params":{"symbol":"'"$symbol"'"}}'; echo
curl -sf "$url" -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
     -d '{"jsonrpc":"2.0","id":3,"method":"copy_rates_from_pos","params":["'"$symbol"'","TIMEFRAME_H1",0,3]}'; echo
