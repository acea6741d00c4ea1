//+------------------------------------------------------------------+
//| Ids.mqh: the names the EA and its helper indicator share.        |
//| Definitions only (no code): the indicator includes it too.       |
//+------------------------------------------------------------------+
#ifndef MTGW_IDS_MQH
#define MTGW_IDS_MQH

#define MTGW_HELPER_NAME       "::Indicators\\MTGateway\\Helper.ex5"   // iCustom name: the EA's resource
#define MTGW_HELPER_SPY        0     // wake the EA on every tick of the symbol
#define MTGW_HELPER_TICKS      1     // synchronize the symbol's tick database from FromMsc
#define MTGW_HELPER_BARS       2     // have the symbol's bars on the timeframe built back to FromMsc
#define MTGW_HELPER_POLL_MS    250   // how often a loading helper looks again (on its symbol's thread)
#define MTGW_EVENT_TICK        1     // chart event (CHARTEVENT_CUSTOM + 1): a tick arrived
#define MTGW_EVENT_LOADED      2     // chart event (CHARTEVENT_CUSTOM + 2): history is loaded
#define MTGW_TICKS_VAR         "MTGW.ticks."         // + symbol: ticks are on disk from this msc
#define MTGW_HELPER_SAMPLES    64    // ticked minutes a tick-history helper checks across its range
#define MTGW_HELPER_EDGE       8     // ... and always the first and last this many
#define MTGW_HELPER_WINDOW_S   86400 // a longer range than two of these: its first and last only
#define MTGW_HELPER_SETTLE_MS      10000 // the first tick on disk unchanged this long: none older...
#define MTGW_HELPER_SETTLE_DAY_MS  2000  // ...and this much longer per day before it...
#define MTGW_HELPER_SETTLE_MAX_MS  30000 // ...at most
#define MTGW_FLOOR_VAR         "MTGW.t0."            // + symbol: the first tick on disk from MTGW.ticks.<symbol> on
#define MTGW_MISSED_VAR        "MTGW.tb."            // + symbol: ticks the server had from MTGW.ticks.<symbol> to here are not on disk
#define MTGW_FLOOR_WATCH_MS    60000 // a floor this far after a copy's start: look for older ticks meanwhile
#define MTGW_FIRST_VAR         "MTGW.f."             // + symbol.minute: the first tick on disk seen...
#define MTGW_FIRST_SINCE_VAR   "MTGW.s."             // + symbol.minute: ...since this GetTickCount
#define MTGW_HOLE_FROM_VAR     "MTGW.hf."            // + symbol: a helper judged the ticks after this msc...
#define MTGW_HOLE_TO_VAR       "MTGW.ht."            // ...up to this one loaded (a hole the EA recorded)

#endif
