//+------------------------------------------------------------------+
//| Events4.mqh: what the MT4 EA pushes without being asked          |
//| (docs/protocol.md section 7), from what MQL4 offers:             |
//|  - `ticks`: MT4 keeps no tick history (no CopyTicks), so each    |
//|    Market Watch symbol's SymbolInfoTick is read every pass and a |
//|    row goes out when it changed. Ticks are CONFLATED: quotes that|
//|    came and went between two passes are not seen; a row's        |
//|    time_msc is its second * 1000 (MQL4's MqlTick has seconds).   |
//|  - `trade`: MT4 has no OnTradeTransaction, so the list of open   |
//|    tickets is compared with the previous pass: a new market      |
//|    ticket is deal_added + position_opened, a new pending one     |
//|    order_added, a changed one position_updated / order_updated,  |
//|    a pending one that became a market ticket order_removed +     |
//|    deal_added + position_opened, a ticket gone to the history    |
//|    deal_added + position_closed (or order_removed). Events wait  |
//|    in a queue while no session is up and go out, in order, on the|
//|    next one; the snapshot is kept across reconnects, so nothing  |
//|    is lost or sent twice.                                        |
//|  - `terminal` and `account_updated` as the MQL5 EA sends them.   |
//+------------------------------------------------------------------+
#ifndef MTGW_EVENTS4_MQH
#define MTGW_EVENTS4_MQH

#include <MTGateway\Json.mqh>
#include <MTGateway\Encode4.mqh>
#include <MTGateway\Session4.mqh>

#define MTGW_RESCAN_MS   1000
#define MTGW_PENDING_MAX 1000
#define MTGW_SEED_MARGIN_S 5      // opened this long before the tickets were learnt: certainly old

struct QuoteCursor
  {
   string            symbol;
   bool              present;
   bool              started;
   long              time;
   double            bid;
   double            ask;
   double            last;
   long              volume;
  };

class CEvents4
  {
public:
   QuoteCursor       cursors[];
   uint              last_rescan;
   uint              last_account_check;
   int               announced_connected;   // -1 unknown
   int               announced_trade;
   long              seen_sessions;
   string            account_sig;
   string            pending[];             // trade payloads not sent yet, oldest first
   long              seeded_login;          // the account the snapshot belongs to (0: none yet)
   long              seeded_time;           // the server time it was taken (TimeCurrent)
   int               snap_ticket[];         // open tickets at the last pass
   int               snap_type[];
   string            snap_sig[];
   string            snap_json[];           // each one's TradePosition / TradeOrder

                     CEvents4(void);

   void              Poll(CGatewaySession4 &session);

   //--- ticks ---------------------------------------------------------------------------------

   void              Rescan(void);

   // One row when the symbol's quote changed since the last row sent (a new symbol starts
   // from its current quote without sending it).
   void              Ticks(CGatewaySession4 &session, const int i);

   //--- trade events from snapshots -------------------------------------------------------------

   void              Queue(const string payload);
   void              SendTrades(CGatewaySession4 &session);
   long              NowMsc(void);
   void              Event(const string type, const string key, const string object_json);

   // The selected ticket's state, to tell a change.
   string            Signature(void);

   string            Encoded(const bool market);

   // The opening (closed = false) or closing deal of the selected ticket.
   string            DealJson(const bool closed);

   int               FindSnap(const int ticket);

   // Compare the open tickets with the last pass and queue what changed. Called at the start
   // of each timer pass, before the session serves anything: the first call once the terminal
   // is logged in AND connected (the account number can come before the ticket list) learns
   // the tickets that were there before the EA, so an order the EA executes is never mistaken
   // for one of them; a ticket opened before that which shows only later (the list still
   // arriving) is learnt silently too, unless it is the rest of a partial close ("from #").
   // A ticket's JSON is encoded again only when it changed.
   void              Trades(void);

   //--- terminal and account ------------------------------------------------------------------

   void              Terminal(CGatewaySession4 &session);
   void              Account(void);
  };

CEvents4::CEvents4(void)
  {
   last_rescan = 0;
   last_account_check = 0;
   announced_connected = -1;
   announced_trade = -1;
   seen_sessions = 0;
   account_sig = "";
   seeded_login = 0;
   seeded_time = 0;
  }

void CEvents4::Poll(CGatewaySession4 &session)
  {
   uint now = GetTickCount();
   if(!session.Ready())
      return;
   if(session.sessions != seen_sessions)
     {
      seen_sessions = session.sessions;
      announced_connected = -1;           // announce the terminal state on every session
      announced_trade = -1;
     }
   if(ArraySize(cursors) == 0 || (int)(now - last_rescan) >= MTGW_RESCAN_MS)
     {
      last_rescan = now;
      Rescan();
     }
   Terminal(session);
   for(int i = 0; i < ArraySize(cursors) && session.Ready(); i++)
      if(cursors[i].present)
         Ticks(session, i);
   if((int)(now - last_account_check) >= MTGW_RESCAN_MS)
     {
      last_account_check = now;
      Account();
     }
   SendTrades(session);
  }

void CEvents4::Rescan(void)
  {
   for(int i = 0; i < ArraySize(cursors); i++)
      cursors[i].present = false;
   int total = SymbolsTotal(true);
   for(int k = 0; k < total; k++)
     {
      string name = SymbolName(k, true);
      int i = -1;
      for(int j = 0; j < ArraySize(cursors) && i < 0; j++)
         if(cursors[j].symbol == name)
            i = j;
      if(i < 0)
        {
         i = ArraySize(cursors);
         ArrayResize(cursors, i + 1);
         cursors[i].symbol = name;
         cursors[i].started = false;
        }
      cursors[i].present = true;
     }
  }

void CEvents4::Ticks(CGatewaySession4 &session, const int i)
  {
   MqlTick t;
   if(!SymbolInfoTick(cursors[i].symbol, t) || t.time == 0)
      return;
   if(cursors[i].started && (long)t.time == cursors[i].time && t.bid == cursors[i].bid && t.ask == cursors[i].ask &&
      t.last == cursors[i].last && (long)t.volume == cursors[i].volume)
      return;
   if(cursors[i].started && (long)t.time < cursors[i].time)
      return;
   bool due = cursors[i].started;
   cursors[i].started = true;
   if(due)
     {
      int dg = SymbolDigits(cursors[i].symbol);
      JsonWriter w;
      w.BeginObj();
      w.KStr("symbol", cursors[i].symbol);
      w.Key("rows");
      w.BeginArr();
      w.BeginArr();
      w.Int((long)t.time * 1000);
      w.Dbl(t.bid, dg);
      w.Dbl(t.ask, dg);
      w.Dbl(t.last, dg);
      w.Int((long)t.volume);
      w.Int(6);                            // TICK_FLAG_BID | TICK_FLAG_ASK
      w.Dbl((double)t.volume);
      w.EndArr();
      w.EndArr();
      w.EndObj();
      if(w.bad || session.SendEvent("ticks", w.out) != MTGW_SENT)
         return;                           // not sent: sent on the next pass or session
     }
   cursors[i].time = (long)t.time;
   cursors[i].bid = t.bid;
   cursors[i].ask = t.ask;
   cursors[i].last = t.last;
   cursors[i].volume = (long)t.volume;
  }

void CEvents4::Queue(const string payload)
  {
   int n = ArraySize(pending);
   if(n >= MTGW_PENDING_MAX)
     {
      Print("MT Gateway: more than ", IntegerToString(MTGW_PENDING_MAX), " trade events waiting for the gateway; the oldest is dropped");
      for(int k = 1; k < n; k++)
         pending[k - 1] = pending[k];
      n--;
     }
   ArrayResize(pending, n + 1, 64);
   pending[n] = payload;
  }

void CEvents4::SendTrades(CGatewaySession4 &session)
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

long CEvents4::NowMsc(void)
  {
   return (long)TimeCurrent() * 1000;
  }

void CEvents4::Event(const string type, const string key, const string object_json)
  {
   Queue("{\"type\":" + JsonWriter::Quote(type) + ",\"time_msc\":" + IntegerToString(NowMsc()) + ",\"" + key + "\":" +
         object_json + "}");
  }

string CEvents4::Signature(void)
  {
   return IntegerToString(OrderType()) + "|" + DoubleToString(OrderLots(), 8) + "|" + DoubleToString(OrderOpenPrice(), 8) +
          "|" + DoubleToString(OrderStopLoss(), 8) + "|" + DoubleToString(OrderTakeProfit(), 8) + "|" +
          IntegerToString((long)OrderExpiration());
  }

string CEvents4::Encoded(const bool market)
  {
   JsonWriter w;
   if(market)
      EncodePosition(w);
   else
      EncodeOrder(w);
   return w.out;
  }

string CEvents4::DealJson(const bool closed)
  {
   VDeal d[];
   int n = DeriveDeals(closed, d);
   if(n == 0)
      return "";
   JsonWriter w;
   EncodeVDeal(w, d[closed ? n - 1 : 0]);
   return w.out;
  }

int CEvents4::FindSnap(const int ticket)
  {
   for(int i = 0; i < ArraySize(snap_ticket); i++)
      if(snap_ticket[i] == ticket)
         return i;
   return -1;
  }

void CEvents4::Trades(void)
  {
   long login = AccountInfoInteger(ACCOUNT_LOGIN);
   if(login == 0)
      return;
   bool seed = login != seeded_login;        // first look at this account: learn, say nothing
   if(seed && !IsConnected())
      return;                                // the ticket list follows the connection
   if(seed)
      seeded_time = (long)TimeCurrent();
   int total = OrdersTotal();
   int now_ticket[], now_type[];
   string now_sig[], now_json[];
   ArrayResize(now_ticket, total);
   ArrayResize(now_type, total);
   ArrayResize(now_sig, total);
   ArrayResize(now_json, total);
   int n = 0;
   for(int i = 0; i < total; i++)
     {
      if(!OrderSelect(i, SELECT_BY_POS, MODE_TRADES))
         continue;
      int t = OrderTicket();
      int type = OrderType();
      bool market = type <= OP_SELL;
      string sig = Signature();
      now_ticket[n] = t;
      now_type[n] = type;
      now_sig[n] = sig;
      int was = seed ? -1 : FindSnap(t);
      now_json[n] = was >= 0 && snap_sig[was] == sig ? snap_json[was] : Encoded(market);
      // (a margin: TimeCurrent is the last quote's time, not the trade server's clock)
      bool known_before = was < 0 && (long)OrderOpenTime() + MTGW_SEED_MARGIN_S < seeded_time &&
                          StringFind(OrderComment(), "from #") != 0;
      if(!seed && !known_before)
        {
         if(was < 0)
           {
            if(market)
              {
               Event("deal_added", "deal", DealJson(false));
               Event("position_opened", "position", now_json[n]);
              }
            else
               Event("order_added", "order", now_json[n]);
           }
         else
            if(snap_type[was] > OP_SELL && market)       // a pending order was filled
              {
               Event("order_removed", "order", snap_json[was]);
               Event("deal_added", "deal", DealJson(false));
               Event("position_opened", "position", now_json[n]);
              }
            else
               if(snap_sig[was] != sig)
                  Event(market ? "position_updated" : "order_updated", market ? "position" : "order", now_json[n]);
        }
      n++;
     }
   if(!seed)
      for(int k = 0; k < ArraySize(snap_ticket); k++)
        {
         bool still = false;
         for(int j = 0; j < n && !still; j++)
            still = now_ticket[j] == snap_ticket[k];
         if(still)
            continue;
         bool market = snap_type[k] <= OP_SELL;
         if(market && OrderSelect(snap_ticket[k], SELECT_BY_TICKET, MODE_HISTORY))
            Event("deal_added", "deal", DealJson(true));
         Event(market ? "position_closed" : "order_removed", market ? "position" : "order", snap_json[k]);
        }
   seeded_login = login;
   ArrayResize(snap_ticket, n);
   ArrayResize(snap_type, n);
   ArrayResize(snap_sig, n);
   ArrayResize(snap_json, n);
   for(int j = 0; j < n; j++)
     {
      snap_ticket[j] = now_ticket[j];
      snap_type[j] = now_type[j];
      snap_sig[j] = now_sig[j];
      snap_json[j] = now_json[j];
     }
  }

void CEvents4::Terminal(CGatewaySession4 &session)
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

void CEvents4::Account(void)
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
   EncodeAccount(w);
   if(!w.bad)
      Event("account_updated", "account", w.out);
  }

#endif
