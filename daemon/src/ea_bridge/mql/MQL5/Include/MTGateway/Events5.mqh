//+------------------------------------------------------------------+
//| Events5.mqh: what the EA pushes without being asked              |
//| (docs/protocol.md section 7):                                    |
//|  - `ticks` for every symbol in Market Watch, from CopyTicks      |
//|    starting AT the last millisecond sent and skipping the ticks  |
//|    of that millisecond already sent, so ticks that share a       |
//|    millisecond but arrive in a later batch are not lost; a       |
//|    symbol is copied only when its last tick changed, and a long  |
//|    catch-up goes out a few thousand rows per pass. New ticks go  |
//|    out when the EA is woken: by OnTick for the chart's symbol,   |
//|    by a chart event from its helper indicator (one "spy" per     |
//|    other Market Watch symbol, whose OnCalculate runs on each of  |
//|    that symbol's ticks), and by its timer; a woken EA looks at   |
//|    every symbol, since the terminal queues one chart event at a  |
//|    time and drops the others;                                    |
//|  - `trade` from OnTradeTransaction, in the order they happened;  |
//|    queued ones wait for the next session when this one drops;    |
//|  - `terminal` (broker connection, Algo Trading) on every change; |
//|  - `book`: a subscribed symbol's whole book from OnBookEvent;    |
//|  - `trade`/account_updated when the account's money moved.       |
//| Transactions arrive in no guaranteed order and describe a state  |
//| that may have moved on: an ORDER_DELETE can come before its      |
//| order is in the history (then HISTORY_ADD reports the removal).  |
//| Positions are learnt once the terminal is logged in AND connected|
//| to the trade server (the account number can come before the     |
//| trade state), and one open from before that is taken as known    |
//| whenever it shows, never announced as opened.                    |
//| A symbol's stream starts (or, back in Market Watch, restarts) at |
//| the first tick after the EA saw its current one, copying nothing |
//| older: its current quote may be days old, and the ticks of an    |
//| absence from Market Watch never reached the terminal (a copy     |
//| into them would make the EA wait for their synchronization).     |
//| The same goes for every symbol after the terminal lost its       |
//| connection to the trade server: no quotes arrive without it, so  |
//| once it is back every stream restarts at its next tick (Resume). |
//+------------------------------------------------------------------+
#ifndef MTGW_EVENTS5_MQH
#define MTGW_EVENTS5_MQH

#include <MTGateway\Json.mqh>
#include <MTGateway\Encode5.mqh>
#include <MTGateway\Session.mqh>

#define MTGW_TICK_ROWS_PER_EVENT 2000
#define MTGW_TICK_ROWS_PER_PASS  6000   // catch-up after an outage goes out in slices
#define MTGW_RESCAN_MS           1000
#define MTGW_PENDING_MAX         1000
#define MTGW_REMOVED_KEPT        256    // orders whose removal was reported (for duplicates)
#define MTGW_LIVE_QUOTE_MS       10000  // a quote at most this old at a stream's start: the terminal's live one
#define MTGW_SEED_MARGIN_MS      5000   // opened this long before positions were learnt: certainly old

struct TickCursor
  {
   string            symbol;
   long              last_msc;     // time_msc of the newest tick sent
   int               sent_at_last; // how many ticks of that millisecond were sent
   bool              present;      // still in Market Watch at the last rescan
   long              seen_msc;     // the last tick SymbolInfoTick showed, to skip idle symbols
   double            seen_bid;
   double            seen_ask;
   double            seen_last;
   ulong             seen_volume;
   uint              seen_flags;
   int               spy;          // the helper indicator waking the EA on this symbol's ticks
   bool              fresh;        // (re)started: nothing sent yet, last_msc is the quote seen
   bool              after_quote;  // ...and the stream starts right after it (else at the next tick)
  };

class CEvents5
  {
public:
   TickCursor        cursors[];
   uint              last_rescan;
   uint              last_account_check;
   int               announced_connected;   // -1 unknown
   int               announced_trade;
   string            account_sig;
   string            pending[];             // trade payloads queued by OnTradeTransaction
   ulong             pos_tickets[];         // last seen open positions, for position_closed
   string            pos_json[];
   long              seen_sessions;
   long              seeded_msc;            // when positions were last learnt (server time)
   ulong             removed[];             // orders whose order_removed went out
   ulong             awaiting[];            // deleted orders not in the history yet
   bool              wake;                  // spies wake the EA on ticks (the TickWake input)
   long              seen_login;            // the account positions were learnt for
   long              account;               // the last account logged in to (0: none yet)
   int               seen_reconnections;    // the history's count when the streams last restarted

                     CEvents5(void);

   // A new session: the terminal state is announced again; tick cursors are kept, so a
   // gateway outage loses no tick (the EA resumes from the last tick it sent), and so are the queued
   // trade events. Positions are not learnt again here: transactions keep the cache current
   // with or without a session, and a request answered before this runs may already have
   // opened one (that opening must be reported, not taken for an old position).
   void              OnWelcome(void);

   // Positions are learnt as soon as the terminal has logged in (OnInit can run before). The
   // EA calls this before anything that may answer a request: an order_send served first
   // would open a position the seeding then took for an old one, never reported opened.
   void              LearnPositions(void);

   // The terminal is on another account ("REASON_ACCOUNT": the EA is re-initialised with its
   // globals kept): the trade events still queued and the positions and orders known are the
   // old account's. Sent on the new account's session they would be taken for its own.
   void              ForgetAccount(const long login);

   // A position open from before the positions were learnt that shows only now (the trade
   // state can trail the connection) is known, not new: its closing must be reported.
   void              AdoptPositions(void);

   void              Poll(CGatewaySession &session);

   // The terminal got its trade server connection back (CHistory5::Watch): the ticks of the
   // outage never reached it, a hole in every symbol's tick database, so every stream restarts
   // as after a return to Market Watch, at the symbol's next tick, or at its quote when that
   // arrived after the connection returned (newer than its quote at the outage). Resuming from
   // the last tick sent would copy across the hole and wait for its synchronization (up to
   // 45 s, no ping answered: the gateway would drop the session). Called before any tick is
   // copied.
   void              Resume(CGatewaySession &session);

   // Everything new, now: the terminal's state, every symbol's new ticks, the queued trade
   // events. Cheap when nothing changed (one SymbolInfoTick per symbol), so every wake-up
   // calls it.
   void              Flush(CGatewaySession &session);

   // The spies go with the EA.
   void              ReleaseSpies(void);

   // The queued trade events, oldest first. What a dropped session did not take stays queued
   // for the next one; an event too large for any frame is left out (and logged).
   void              SendTrades(CGatewaySession &session);

   //--- ticks ---------------------------------------------------------------------------------

   int               Find(const string symbol);

   // Market Watch as it is now. Symbols keep their place in the list from one rescan to the
   // next, so the cursor at the same index is tried before a search.
   void              Rescan(CGatewaySession &session);

   // A symbol seen for the first time (or back in Market Watch) streams from the first tick
   // after its current one. Nothing is copied here: the current quote may be days old (a
   // market that is closed), and its millisecond need not be on disk. The ticks right after
   // that quote are on disk only when the terminal has been receiving the symbol's quotes up
   // to now; not after a return to Market Watch (it received none meanwhile, and its quote can
   // still be the one from before), nor when the quote is older than MTGW_LIVE_QUOTE_MS (the
   // terminal was closed, or the market is): then the stream starts at the next tick that
   // arrives, since a copy from right after the quote would reach into ticks the terminal
   // never received and wait for their synchronization.
   void              Start(CGatewaySession &session, const int i, const bool returned);

   void              Ticks(CGatewaySession &session, const int i);

   // Rows [from, upto) of `ticks` as one `ticks` event; false when the session did not take it.
   bool              SendRows(CGatewaySession &session, const string s, const MqlTick &ticks[], const int from,
                              const int upto, const int dg);

   //--- depth of market -----------------------------------------------------------------------

   // OnBookEvent: the book changed; send it whole. Not sent (no session) is not queued: the
   // next change sends a newer book, and a book is a snapshot.
   void              OnBook(CGatewaySession &session, const string symbol);

   //--- terminal and account ------------------------------------------------------------------

   void              Terminal(CGatewaySession &session);
   void              Account(CGatewaySession &session);

   // The trade server's clock; MQL5 gives it in seconds only.
   long              NowMsc(void);

   //--- trade transactions -------------------------------------------------------------------

   void              Queue(const string payload);
   bool              Listed(const ulong &list[], const ulong ticket);

   // Add to a short list of tickets (the oldest goes beyond MTGW_REMOVED_KEPT).
   void              Remember(ulong &list[], const ulong ticket);

   void              Forget(ulong &list[], const ulong ticket);
   int               CachedPosition(const ulong ticket);
   void              RememberPosition(const ulong ticket, const string json);
   void              ForgetPosition(const int i);
   string            Wrap(const string type, const long time_msc, const string key, const string object_json);

   // Called from OnTradeTransaction: each change becomes one `trade` payload, sent next pass.
   // Transactions are queued by the terminal and arrive after the handler that caused them, so
   // the state they name may have moved on: a market order is usually already in history when
   // its ORDER_ADD arrives, and a position opened and closed within one pass is gone when the
   // opening deal arrives. Both cases are reported from what history still holds.
   void              OnTransaction(const MqlTradeTransaction &tx);

   // opened / updated / closed, judged by whether the position is open and was seen before;
   // an update that changes nothing the EA reports is not sent twice.
   void              PositionChange(const ulong ticket, const long when);

   // The position as its opening deal describes it (it no longer exists to be read).
   void              OpenedFromDeal(const ulong position, const ulong deal, const long when);

   // Positions open now are known, so their closing is reported (when the terminal has
   // logged in: the EA can start before that, when none shows yet).
   void              SeedPositions(void);
  };

CEvents5::CEvents5(void)
  {
   seen_sessions = 0;
   seeded_msc = 0;
   wake = true;
   seen_login = 0;
   account = 0;
   last_rescan = 0;
   last_account_check = 0;
   announced_connected = -1;
   announced_trade = -1;
   account_sig = "";
   seen_reconnections = 0;
  }

void CEvents5::OnWelcome(void)
  {
   announced_connected = -1;
   announced_trade = -1;
   account_sig = "";
  }

void CEvents5::LearnPositions(void)
  {
   long login = AccountInfoInteger(ACCOUNT_LOGIN);
   if(login == seen_login)
      return;
   if(login != 0 && !TerminalInfoInteger(TERMINAL_CONNECTED))
      return;                                  // the trade state follows the connection
   seen_login = login;
   if(login == 0)
      return;
   if(account != 0 && login != account)
      ForgetAccount(login);
   account = login;
   SeedPositions();
  }

void CEvents5::ForgetAccount(const long login)
  {
   if(ArraySize(pending) > 0)
      Print("MT Gateway: ", IntegerToString(ArraySize(pending)), " trade events of account ", IntegerToString(account),
            " not sent: the terminal is on account ", IntegerToString(login), " now");
   ArrayResize(pending, 0);
   ArrayResize(pos_tickets, 0);
   ArrayResize(pos_json, 0);
   ArrayResize(removed, 0);
   ArrayResize(awaiting, 0);
  }

void CEvents5::AdoptPositions(void)
  {
   if(seen_login == 0)
      return;
   int total = PositionsTotal();
   for(int i = 0; i < total; i++)
     {
      ulong t = PositionGetTicket(i);
      // (a margin: TimeTradeServer is the terminal's estimate of the server's clock)
      if(t == 0 || CachedPosition(t) >= 0 || PositionGetInteger(POSITION_TIME_MSC) + MTGW_SEED_MARGIN_MS >= seeded_msc)
         continue;
      JsonWriter w;
      EncodePosition(w);
      if(!w.bad)
         RememberPosition(t, w.out);
     }
  }

void CEvents5::Poll(CGatewaySession &session)
  {
   // Market Watch is followed from the EA's start, connected or not: ticks that arrive
   // before (or between) sessions are sent once one is live.
   Resume(session);
   uint now = GetTickCount();
   if(last_rescan == 0 || (int)(now - last_rescan) >= MTGW_RESCAN_MS)
     {
      Rescan(session);
      last_rescan = now == 0 ? 1 : now;
      LearnPositions();
      AdoptPositions();
     }
   LearnPositions();
   if(!session.Ready())
      return;
   if(session.sessions != seen_sessions)
     {
      seen_sessions = session.sessions;
      OnWelcome();
     }
   Flush(session);
   if((int)(now - last_account_check) >= MTGW_RESCAN_MS)
     {
      last_account_check = now;
      Account(session);
      SendTrades(session);
     }
  }

void CEvents5::Resume(CGatewaySession &session)
  {
   session.methods.history.Watch();
   if(session.methods.history.reconnections == seen_reconnections)
      return;
   seen_reconnections = session.methods.history.reconnections;
   for(int i = 0; i < ArraySize(cursors); i++)
      if(cursors[i].present)
        {
         Start(session, i, true);
         // a quote newer than the one the symbol showed when the outage was first seen came
         // after the connection returned (none arrives without it): it goes out first, as the
         // quote shows it, and the copies start after its millisecond
         long before = session.methods.history.OutageQuote(cursors[i].symbol);
         if(before > 0 && cursors[i].last_msc > before)
           {
            cursors[i].last_msc--;
            cursors[i].seen_msc = 0;
           }
        }
  }

void CEvents5::Flush(CGatewaySession &session)
  {
   Resume(session);
   if(!session.Ready() || session.sessions != seen_sessions)
      return;                                   // Poll handles a new session first
   Terminal(session);
   for(int i = 0; i < ArraySize(cursors) && session.Ready(); i++)
      if(cursors[i].present)
         Ticks(session, i);
   SendTrades(session);
  }

void CEvents5::ReleaseSpies(void)
  {
   for(int i = 0; i < ArraySize(cursors); i++)
      if(cursors[i].spy != INVALID_HANDLE)
        {
         IndicatorRelease(cursors[i].spy);
         cursors[i].spy = INVALID_HANDLE;
        }
  }

void CEvents5::SendTrades(CGatewaySession &session)
  {
   int sent = 0;
   for(; sent < ArraySize(pending) && session.Ready(); sent++)
      if(session.SendEvent("trade", pending[sent]) == MTGW_NOT_SENT)
         break;
   if(sent == 0)
      return;
   int left = ArraySize(pending) - sent;
   for(int k = 0; k < left; k++)
      pending[k] = pending[k + sent];
   ArrayResize(pending, left);
  }

int CEvents5::Find(const string symbol)
  {
   for(int i = 0; i < ArraySize(cursors); i++)
      if(cursors[i].symbol == symbol)
         return i;
   return -1;
  }

void CEvents5::Rescan(CGatewaySession &session)
  {
   int was[];                                 // 1: in Market Watch at the last rescan
   ArrayResize(was, ArraySize(cursors));
   for(int i = 0; i < ArraySize(cursors); i++)
     {
      was[i] = cursors[i].present ? 1 : 0;
      cursors[i].present = false;
     }
   int total = SymbolsTotal(true);
   for(int k = 0; k < total; k++)
     {
      string name = SymbolName(k, true);
      int i = k < ArraySize(cursors) && cursors[k].symbol == name ? k : Find(name);
      if(i < 0)
        {
         i = ArraySize(cursors);
         ArrayResize(cursors, i + 1);
         cursors[i].symbol = name;
         cursors[i].last_msc = 0;
         cursors[i].sent_at_last = 0;
         cursors[i].seen_msc = 0;
         cursors[i].spy = INVALID_HANDLE;
         Start(session, i, false);
        }
      else
         if(was[i] == 0)
           {
            // back in Market Watch: the quotes of its absence never reached the terminal
            session.methods.history.Returned(name, cursors[i].seen_msc > 0 ? cursors[i].seen_msc : cursors[i].last_msc);
            Start(session, i, true);
           }
      cursors[i].present = true;
     }
   // a spy on each Market Watch symbol but the chart's (OnTick covers that one); none on
   // a symbol that left Market Watch
   for(int i = 0; i < ArraySize(cursors); i++)
     {
      bool want = wake && cursors[i].present && cursors[i].symbol != _Symbol && !session.methods.history.helper_missing;
      if(want && cursors[i].spy == INVALID_HANDLE)
        {
         ResetLastError();
         cursors[i].spy = iCustom(cursors[i].symbol, PERIOD_MN1, MTGW_HELPER_NAME, MTGW_HELPER_SPY, ChartID(), (long)0, 0);
         if(cursors[i].spy == INVALID_HANDLE)
           {
            session.methods.history.helper_missing = true;
            Print("MT Gateway: the helper indicator ", MTGW_HELPER_NAME, " cannot be created (error ",
                  IntegerToString(GetLastError()), "): ticks of symbols other than the chart's go out on the timer");
           }
        }
      else
         if(!want && cursors[i].spy != INVALID_HANDLE)
           {
            IndicatorRelease(cursors[i].spy);
            cursors[i].spy = INVALID_HANDLE;
           }
     }
  }

void CEvents5::Start(CGatewaySession &session, const int i, const bool returned)
  {
   MqlTick t;
   cursors[i].last_msc = 0;
   cursors[i].sent_at_last = 0;
   cursors[i].seen_msc = 0;
   cursors[i].fresh = true;
   cursors[i].after_quote = false;
   if(!SymbolInfoTick(cursors[i].symbol, t) || t.time_msc <= 0)
      return;
   cursors[i].after_quote = !returned && (long)TimeTradeServer() * 1000 - t.time_msc <= MTGW_LIVE_QUOTE_MS;
   cursors[i].last_msc = t.time_msc;
   cursors[i].seen_msc = t.time_msc;
   cursors[i].seen_bid = t.bid;
   cursors[i].seen_ask = t.ask;
   cursors[i].seen_last = t.last;
   cursors[i].seen_volume = t.volume;
   cursors[i].seen_flags = t.flags;
  }

void CEvents5::Ticks(CGatewaySession &session, const int i)
  {
   string s = cursors[i].symbol;
   MqlTick now;
   if(!SymbolInfoTick(s, now))
      return;
   if(cursors[i].last_msc == 0)
     {
      Start(session, i, false);
      return;
     }
   if(now.time_msc < cursors[i].last_msc)
      return;                                  // nothing newer than what was sent
   if(now.time_msc == cursors[i].seen_msc && now.bid == cursors[i].seen_bid && now.ask == cursors[i].seen_ask &&
      now.last == cursors[i].seen_last && now.volume == cursors[i].seen_volume && now.flags == cursors[i].seen_flags)
      return;                                  // the same last tick as last time: no copy
   if(cursors[i].fresh)
     {
      if(now.time_msc == cursors[i].last_msc)
         return;                               // the millisecond of the quote seen is skipped
      // the first tick after the quote seen arrived live: the stream starts right after that
      // quote when the terminal was receiving the symbol's quotes then (Start). Else the ticks
      // before this one are a hole in the tick database (an absence from Market Watch, a lost
      // connection, a terminal that was closed), and ticks of this very millisecond can be on
      // both sides of it: a copy from it could reach into the hole and wait for its
      // synchronization. So this tick goes out as the quote shows it, and the copies start
      // after its millisecond.
      long from = cursors[i].last_msc + 1;
      if(!cursors[i].after_quote)
        {
         MqlTick first[];
         ArrayResize(first, 1);
         first[0] = now;
         if(!SendRows(session, s, first, 0, 1, SymbolDigits(s)))
            return;                            // not sent: it stays the first, next pass
         from = now.time_msc + 1;
         cursors[i].seen_msc = now.time_msc;
         cursors[i].seen_bid = now.bid;
         cursors[i].seen_ask = now.ask;
         cursors[i].seen_last = now.last;
         cursors[i].seen_volume = now.volume;
         cursors[i].seen_flags = now.flags;
        }
      cursors[i].last_msc = from;
      cursors[i].sent_at_last = 0;
      cursors[i].fresh = false;
      session.methods.history.NoteStream(s, from);
     }
   MqlTick ticks[];
   int n = CopyTicks(s, ticks, COPY_TICKS_ALL, (ulong)cursors[i].last_msc, (uint)(cursors[i].sent_at_last + MTGW_TICK_ROWS_PER_PASS));
   if(n <= 0)
      return;                                  // -1: history not ready yet, next pass
   int skip = 0;
   while(skip < n && ticks[skip].time_msc == cursors[i].last_msc && skip < cursors[i].sent_at_last)
      skip++;
   if(n < cursors[i].sent_at_last + MTGW_TICK_ROWS_PER_PASS)
     {
      // the copy reached the last tick: this one is seen (a capped copy leaves it for later)
      cursors[i].seen_msc = now.time_msc;
      cursors[i].seen_bid = now.bid;
      cursors[i].seen_ask = now.ask;
      cursors[i].seen_last = now.last;
      cursors[i].seen_volume = now.volume;
      cursors[i].seen_flags = now.flags;
     }
   if(skip >= n)
      return;
   int dg = SymbolDigits(s);
   int from = skip;
   while(from < n && session.Ready())
     {
      int upto = from + MTGW_TICK_ROWS_PER_EVENT;
      if(upto > n)
         upto = n;
      if(!SendRows(session, s, ticks, from, upto, dg))
        {
         cursors[i].seen_msc = 0;              // not sent: the cursor stays, resent next session
         return;
        }
      // advance the cursor over what was sent
      long last = ticks[upto - 1].time_msc;
      int same = 0;
      for(int k = upto - 1; k >= 0 && ticks[k].time_msc == last; k--)
         same++;
      if(last == cursors[i].last_msc)
         cursors[i].sent_at_last += upto - from;
      else
        {
         cursors[i].last_msc = last;
         cursors[i].sent_at_last = same;
        }
      from = upto;
     }
  }

bool CEvents5::SendRows(CGatewaySession &session, const string s, const MqlTick &ticks[], const int from,
                        const int upto, const int dg)
  {
   JsonWriter w;
   w.BeginObj();
   w.KStr("symbol", s);
   w.Key("rows");
   w.BeginArr();
   for(int k = from; k < upto; k++)
     {
      w.BeginArr();
      w.Int(ticks[k].time_msc);
      w.Dbl(ticks[k].bid, dg);
      w.Dbl(ticks[k].ask, dg);
      w.Dbl(ticks[k].last, dg);
      w.Int((long)ticks[k].volume);
      w.Int((long)ticks[k].flags);
      w.Dbl(ticks[k].volume_real);
      w.EndArr();
     }
   w.EndArr();
   w.EndObj();
   if(w.bad)
     {
      Print("MT Gateway: skipped ", IntegerToString(upto - from), " ticks of ", s, " with a non-finite price");
      return true;
     }
   return session.SendEvent("ticks", w.out) != MTGW_NOT_SENT;
  }

void CEvents5::OnBook(CGatewaySession &session, const string symbol)
  {
   if(!session.Ready() || !session.methods.BookSubscribed(symbol))
      return;                                  // BookEvent is broadcast: not ours
   JsonWriter w;
   w.BeginObj();
   w.KStr("symbol", symbol);
   w.Key("book");
   if(!EncodeBook(w, symbol) || w.bad)
      return;
   w.EndObj();
   session.SendEvent("book", w.out);
  }

void CEvents5::Terminal(CGatewaySession &session)
  {
   int connected = TerminalInfoInteger(TERMINAL_CONNECTED) != 0 ? 1 : 0;
   int trade = (TerminalInfoInteger(TERMINAL_TRADE_ALLOWED) != 0 && MQLInfoInteger(MQL_TRADE_ALLOWED) != 0) ? 1 : 0;
   if(connected == announced_connected && trade == announced_trade)
      return;
   if(session.SendEvent("terminal", "{\"connected\":" + (connected == 1 ? "true" : "false") +
                        ",\"trade_allowed\":" + (trade == 1 ? "true" : "false") + "}") == MTGW_SENT)
     {
      announced_connected = connected;
      announced_trade = trade;
     }
  }

void CEvents5::Account(CGatewaySession &session)
  {
   string sig = DoubleToString(AccountInfoDouble(ACCOUNT_BALANCE), 2) + "/" +
                DoubleToString(AccountInfoDouble(ACCOUNT_EQUITY), 2) + "/" +
                DoubleToString(AccountInfoDouble(ACCOUNT_MARGIN), 2) + "/" +
                DoubleToString(AccountInfoDouble(ACCOUNT_CREDIT), 2);
   if(sig == account_sig)
      return;
   bool first = account_sig == "";
   account_sig = sig;
   if(first)
      return;                                   // the daemon reads account_info itself
   JsonWriter w;
   w.BeginObj();
   w.KStr("type", "account_updated");
   w.KInt("time_msc", NowMsc());
   w.Key("account");
   EncodeAccount(w);
   w.EndObj();
   if(!w.bad)
      Queue(w.out);                           // in order with the trade events, kept on a drop
  }

long CEvents5::NowMsc(void)
  {
   return (long)TimeTradeServer() * 1000;
  }

void CEvents5::Queue(const string payload)
  {
   if(ArraySize(pending) >= MTGW_PENDING_MAX)
     {
      Print("MT Gateway: trade event queue full; the gateway reconciles from account state");
      return;
     }
   int n = ArraySize(pending);
   ArrayResize(pending, n + 1);
   pending[n] = payload;
  }

bool CEvents5::Listed(const ulong &list[], const ulong ticket)
  {
   for(int i = 0; i < ArraySize(list); i++)
      if(list[i] == ticket)
         return true;
   return false;
  }

void CEvents5::Remember(ulong &list[], const ulong ticket)
  {
   int n = ArraySize(list);
   if(n >= MTGW_REMOVED_KEPT)
     {
      for(int i = 1; i < n; i++)
         list[i - 1] = list[i];
      n--;
     }
   ArrayResize(list, n + 1);
   list[n] = ticket;
  }

void CEvents5::Forget(ulong &list[], const ulong ticket)
  {
   int n = ArraySize(list);
   for(int i = 0; i < n; i++)
      if(list[i] == ticket)
        {
         list[i] = list[n - 1];
         ArrayResize(list, n - 1);
         return;
        }
  }

int CEvents5::CachedPosition(const ulong ticket)
  {
   for(int i = 0; i < ArraySize(pos_tickets); i++)
      if(pos_tickets[i] == ticket)
         return i;
   return -1;
  }

void CEvents5::RememberPosition(const ulong ticket, const string json)
  {
   int i = CachedPosition(ticket);
   if(i < 0)
     {
      i = ArraySize(pos_tickets);
      ArrayResize(pos_tickets, i + 1);
      ArrayResize(pos_json, i + 1);
      pos_tickets[i] = ticket;
     }
   pos_json[i] = json;
  }

void CEvents5::ForgetPosition(const int i)
  {
   int last = ArraySize(pos_tickets) - 1;
   pos_tickets[i] = pos_tickets[last];
   pos_json[i] = pos_json[last];
   ArrayResize(pos_tickets, last);
   ArrayResize(pos_json, last);
  }

string CEvents5::Wrap(const string type, const long time_msc, const string key, const string object_json)
  {
   return "{\"type\":\"" + type + "\",\"time_msc\":" + IntegerToString(time_msc) + ",\"" + key + "\":" + object_json + "}";
  }

void CEvents5::OnTransaction(const MqlTradeTransaction &tx)
  {
   JsonWriter w;
   if(tx.type == TRADE_TRANSACTION_ORDER_ADD || tx.type == TRADE_TRANSACTION_ORDER_UPDATE)
     {
      string kind = tx.type == TRADE_TRANSACTION_ORDER_ADD ? "order_added" : "order_updated";
      if(OrderSelect(tx.order))
        {
         EncodeOrder(w);
         if(!w.bad)
            Queue(Wrap(kind, OrderGetInteger(ORDER_TIME_SETUP_MSC), "order", w.out));
        }
      else
         if(HistoryOrderSelect(tx.order))
           {
            EncodeHistoryOrder(w, tx.order);
            if(!w.bad)
               Queue(Wrap(kind, HistoryOrderGetInteger(tx.order, ORDER_TIME_SETUP_MSC), "order", w.out));
           }
      return;
     }
   if(tx.type == TRADE_TRANSACTION_ORDER_DELETE || tx.type == TRADE_TRANSACTION_HISTORY_ADD)
     {
      // the removal is reported once, from the history: at ORDER_DELETE when the order is
      // already there, else when HISTORY_ADD brings it (either may come first)
      if(Listed(removed, tx.order))
         return;
      if(!HistoryOrderSelect(tx.order))
        {
         if(tx.type == TRADE_TRANSACTION_ORDER_DELETE && !Listed(awaiting, tx.order))
            Remember(awaiting, tx.order);
         return;
        }
      if(tx.type == TRADE_TRANSACTION_HISTORY_ADD && !Listed(awaiting, tx.order) && OrderSelect(tx.order))
         return;                               // still open (a partial fill's remainder)
      EncodeHistoryOrder(w, tx.order);
      long when = HistoryOrderGetInteger(tx.order, ORDER_TIME_DONE_MSC);
      if(!w.bad)
         Queue(Wrap("order_removed", when > 0 ? when : NowMsc(), "order", w.out));
      Remember(removed, tx.order);
      Forget(awaiting, tx.order);
      return;
     }
   if(tx.type == TRADE_TRANSACTION_DEAL_ADD)
     {
      if(!HistoryDealSelect(tx.deal))
         return;
      long when = HistoryDealGetInteger(tx.deal, DEAL_TIME_MSC);
      EncodeDeal(w, tx.deal);
      if(!w.bad)
         Queue(Wrap("deal_added", when, "deal", w.out));
      ulong position = tx.position != 0 ? tx.position : (ulong)HistoryDealGetInteger(tx.deal, DEAL_POSITION_ID);
      if(position == 0)
         return;
      bool open_now = PositionSelectByTicket(position);
      bool entry_in = HistoryDealGetInteger(tx.deal, DEAL_ENTRY) == DEAL_ENTRY_IN;
      if(!open_now && entry_in)
        {
         // opened and already closed before we looked: report the opening from the deal;
         // the closing deal that follows reports the close
         if(CachedPosition(position) < 0)
            OpenedFromDeal(position, tx.deal, when);
         return;
        }
      PositionChange(position, when);
      return;
     }
   if(tx.type == TRADE_TRANSACTION_POSITION)
      PositionChange(tx.position, NowMsc());
  }

void CEvents5::PositionChange(const ulong ticket, const long when)
  {
   int cached = CachedPosition(ticket);
   if(PositionSelectByTicket(ticket))
     {
      JsonWriter w;
      EncodePosition(w);
      if(w.bad || (cached >= 0 && pos_json[cached] == w.out))
         return;
      // not seen before but older than the last time positions were learnt: it was open
      // already, so this is a change, not an opening
      bool opened = cached < 0 && PositionGetInteger(POSITION_TIME_MSC) >= seeded_msc;
      Queue(Wrap(opened ? "position_opened" : "position_updated", when, "position", w.out));
      RememberPosition(ticket, w.out);
     }
   else
      if(cached >= 0)
        {
         Queue(Wrap("position_closed", when, "position", pos_json[cached]));
         ForgetPosition(cached);
        }
  }

void CEvents5::OpenedFromDeal(const ulong position, const ulong deal, const long when)
  {
   string symbol = HistoryDealGetString(deal, DEAL_SYMBOL);
   int dg = SymbolDigits(symbol);
   double price = HistoryDealGetDouble(deal, DEAL_PRICE);
   JsonWriter w;
   w.BeginObj();
   w.KInt("ticket", (long)position);
   w.KInt("time", HistoryDealGetInteger(deal, DEAL_TIME));
   w.KInt("time_msc", when);
   w.KInt("time_update", HistoryDealGetInteger(deal, DEAL_TIME));
   w.KInt("time_update_msc", when);
   w.KInt("type", HistoryDealGetInteger(deal, DEAL_TYPE) == DEAL_TYPE_BUY ? POSITION_TYPE_BUY : POSITION_TYPE_SELL);
   w.KInt("magic", HistoryDealGetInteger(deal, DEAL_MAGIC));
   w.KInt("identifier", (long)position);
   w.KInt("reason", HistoryDealGetInteger(deal, DEAL_REASON));
   w.KDbl("volume", HistoryDealGetDouble(deal, DEAL_VOLUME));
   w.KDbl("price_open", price, dg);
   w.KDbl("sl", 0.0, dg);
   w.KDbl("tp", 0.0, dg);
   w.KDbl("price_current", price, dg);
   w.KDbl("swap", 0.0, 2);
   w.KDbl("profit", 0.0, 2);
   w.KStr("symbol", symbol);
   w.KStr("comment", HistoryDealGetString(deal, DEAL_COMMENT));
   w.KStr("external_id", HistoryDealGetString(deal, DEAL_EXTERNAL_ID));
   w.EndObj();
   if(w.bad)
      return;
   Queue(Wrap("position_opened", when, "position", w.out));
   RememberPosition(position, w.out);
  }

void CEvents5::SeedPositions(void)
  {
   seeded_msc = NowMsc();
   int total = PositionsTotal();
   for(int i = 0; i < total; i++)
     {
      ulong t = PositionGetTicket(i);
      if(t == 0)
         continue;
      JsonWriter w;
      EncodePosition(w);
      if(!w.bad)
         RememberPosition(t, w.out);
     }
  }

#endif
