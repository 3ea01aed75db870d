// An independent FIX acceptor playing the exchange (Kalshi) for the interop suite: QuickFIX C++
// 1.15.1 as packaged by Debian (libquickfix-dev). The project's own simulator shares code and
// assumptions with the client; this peer shares neither, so the session layer (Logon, heartbeats,
// TestRequest, ResendRequest replay with PossDup, GapFill, Logout) is checked against a mature
// engine. Built and driven by quickfix.ts:
//   g++ -std=gnu++14 -O1 -o qf_acceptor qf_acceptor.cpp -lquickfix -lpthread
// (C++14: the 1.15.1 headers use dynamic exception specifications that C++17 rejects.)
//
// Arguments: Key=Value QuickFIX settings (SenderCompID, TargetCompID, SocketAcceptPort,
// ResetOnLogon, FileStorePath, ServerCertificateFile, ServerCertificateKeyFile, ...) that
// override the defaults below, plus three of ours: SSL=Y|N (default Y), RequireResetSeqNumFlag=Y|N
// (default: same as ResetOnLogon; KalshiNR rejects Logons without 141=Y) and LogonMaxLatency=<s>
// (default 30, Kalshi's SendingTime tolerance; 0 disables).
//
// stdin, one command per line:
//   exec <tag=value|tag=value|...>        send an ExecutionReport (35=8) in the given field order; logged on only
//   execsilent <tag=value|...>            persist an ExecutionReport under the next seq, never write it
//   jump <n>                              advance the next outgoing seq by n, storing nothing
//   testreq <id>                          send TestRequest 112=<id>
//   logout [text]                         send Logout (58=text), wait for the reply, disconnect
//   drop                                  close the socket without Logout
//   quit                                  Logout if logged on, then exit (stdin EOF = quit)
// stdout, one line per event, flushed (SOH shown as |):
//   ready <port> | logon <sid> | logout <sid> | admin <raw> | app <raw> | recv <raw> | sent <raw>
//   | stored <raw> | event <quickfix session event> | ok <command> | error <text> | bye

// The Debian library is built with OpenSSL but ships no config.h; the SSL headers are guarded by
// HAVE_SSL, so define it to see the SSL acceptor the library already contains.
#define HAVE_SSL 1
// The Application interface itself uses throw(...) specifications; nothing to fix on our side.
#pragma GCC diagnostic ignored "-Wdeprecated"

#include <quickfix/Application.h>
#include <quickfix/FileStore.h>
#include <quickfix/Log.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketAcceptor.h>
#include <quickfix/SSLSocketAcceptor.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// Every line goes through here: the harness parses stdout line by line, so no interleaving and
// an immediate flush (a pipe would otherwise buffer until exit).
void out(const std::string& kind, const std::string& text = "") {
  std::string line = text.empty() ? kind : kind + " " + text;
  for (char& c : line) if (c == '\x01') c = '|';
  std::cout << line << std::endl;
}

std::string raw(const FIX::Message& m) { std::string s; m.toString(s); return s; }

// QuickFIX's Log is the only place that sees the exact bytes on the wire (incoming before
// validation, outgoing including resends and GapFills) and the engine's own session events.
class StdoutLog : public FIX::Log {
 public:
  void clear() override {}
  void backup() override {}
  void onIncoming(const std::string& s) override { out("recv", s); }
  void onOutgoing(const std::string& s) override { out("sent", s); }
  void onEvent(const std::string& s) override { out("event", s); }
};
class StdoutLogFactory : public FIX::LogFactory {
 public:
  FIX::Log* create() override { return new StdoutLog; }
  FIX::Log* create(const FIX::SessionID&) override { return new StdoutLog; }
  void destroy(FIX::Log* log) override { delete log; }
};

class Exchange : public FIX::Application {
 public:
  bool requireReset = false;
  int maxLatency = 30;

  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID& id) override { out("logon", id.toString()); }
  void onLogout(const FIX::SessionID& id) override { out("logout", id.toString()); }
  void toAdmin(FIX::Message&, const FIX::SessionID&) override {}
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
  void fromApp(const FIX::Message& m, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
            FIX::UnsupportedMessageType) override {
    out("app", raw(m));
  }
  // Kalshi's listener-session rules (kalshi-fix-margin.md §2.2): a rejected Logon becomes a Logout
  // with 58=<text>, which is what Kalshi answers too.
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
            FIX::RejectLogon) override {
    out("admin", raw(m));
    if (m.getHeader().getField(FIX::FIELD::MsgType) != "A") return;
    // QuickFIX's own CheckLatency drops a stale Logon silently (it cannot Reject before logon), so
    // the 30 s rule is applied here instead, where a rejection becomes a Logout with text.
    FIX::SendingTime sent;
    m.getHeader().getField(sent);
    if (maxLatency > 0 && std::abs(FIX::UtcTimeStamp() - sent.getValue()) > maxLatency)
      throw FIX::RejectLogon("SendingTime accuracy problem");
    auto value = [&m](int tag) { return m.isSetField(tag) ? m.getField(tag) : std::string(); };
    if (value(20126) != "Y") throw FIX::RejectLogon("ListenerSession(20126)=Y required");
    if (value(21011) != "Y") throw FIX::RejectLogon("SkipPendingExecReports(21011)=Y required with 20126=Y");
    if (!m.isSetField(96)) throw FIX::RejectLogon("RawData(96) signature missing");
    if (!value(8013).empty() && value(8013) != "N")
      throw FIX::RejectLogon("CancelOrdersOnDisconnect(8013)=Y not compatible with listener session");
    if (requireReset && value(141) != "Y") throw FIX::RejectLogon("ResetSeqNumFlag(141)=Y required");
  }
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) if (!part.empty()) parts.push_back(part);
  return parts;
}

// An ExecutionReport whose body keeps the caller's field order: QuickFIX sorts body fields by tag
// number unless the map is built with an explicit group order, so the order is derived from the
// command. (A message replayed from the store is re-parsed and comes out sorted by tag.)
std::unique_ptr<FIX::Message> executionReport(const std::string& spec) {
  std::vector<std::pair<int, std::string>> fields;
  for (const std::string& f : split(spec, '|')) {
    size_t eq = f.find('=');
    if (eq == std::string::npos || eq == 0) throw std::runtime_error("bad field '" + f + "'");
    int tag = std::stoi(f.substr(0, eq));
    if (tag <= 0) throw std::runtime_error("bad tag in '" + f + "'");
    fields.emplace_back(tag, f.substr(eq + 1));
  }
  if (fields.empty()) throw std::runtime_error("no fields");
  std::vector<int> order;
  for (auto& f : fields) order.push_back(f.first);
  order.push_back(0);
  std::unique_ptr<FIX::Message> m(new FIX::Message(
      FIX::message_order(FIX::message_order::header), FIX::message_order(FIX::message_order::trailer),
      FIX::message_order(order.data())));
  m->getHeader().setField(FIX::MsgType("8"));
  for (auto& f : fields) m->setField(FIX::FieldBase(f.first, f.second), false);
  return m;
}

// Commands arrive on a reader thread but run on the main thread between acceptor polls, so they
// never race QuickFIX's own processing (the non-threaded acceptor does everything on this thread).
std::mutex queueMutex;
std::deque<std::string> commands;

void readStdin() {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::lock_guard<std::mutex> lock(queueMutex);
    commands.push_back(line);
  }
  std::lock_guard<std::mutex> lock(queueMutex);
  commands.push_back("quit");  // parent went away: do not linger as an orphan
}

bool nextCommand(std::string& line) {
  std::lock_guard<std::mutex> lock(queueMutex);
  if (commands.empty()) return false;
  line = commands.front();
  commands.pop_front();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  FIX::Dictionary defaults;
  defaults.setString("ConnectionType", "acceptor");
  defaults.setString("BeginString", "FIXT.1.1");
  defaults.setString("DefaultApplVerID", "FIX.5.0SP2");
  defaults.setString("UseDataDictionary", "N");
  defaults.setString("StartTime", "00:00:00");
  defaults.setString("EndTime", "00:00:00");
  defaults.setString("ResetOnLogon", "N");
  defaults.setString("ResetOnLogout", "N");
  defaults.setString("ResetOnDisconnect", "N");
  defaults.setString("CheckLatency", "N");  // see fromAdmin; LogonMaxLatency=<s> (0 = off) replaces it
  defaults.setString("ValidateUserDefinedFields", "N");
  defaults.setString("AllowUnknownMsgFields", "Y");
  defaults.setString("ValidateFieldsOutOfOrder", "N");
  defaults.setString("SocketReuseAddress", "Y");
  defaults.setString("SSLProtocol", "-all +TLSv1_2");
  defaults.setString("CertificateVerifyLevel", "0");  // no client certificates (Kalshi uses none)
  defaults.setString("SSL", "Y");
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    size_t eq = arg.find('=');
    if (eq == std::string::npos) { out("error", "argument is not Key=Value: " + arg); return 2; }
    defaults.setString(arg.substr(0, eq), arg.substr(eq + 1));
  }
  for (const char* key : {"SenderCompID", "TargetCompID", "SocketAcceptPort", "FileStorePath"}) {
    if (!defaults.has(key)) { out("error", std::string("missing argument ") + key + "=..."); return 2; }
  }

  Exchange app;
  app.requireReset = defaults.has("RequireResetSeqNumFlag")
                         ? defaults.getBool("RequireResetSeqNumFlag")
                         : defaults.getBool("ResetOnLogon");
  if (defaults.has("LogonMaxLatency")) app.maxLatency = defaults.getInt("LogonMaxLatency");
  try {
    FIX::SessionSettings settings;
    settings.set(defaults);
    FIX::SessionID sid(defaults.getString("BeginString"), defaults.getString("SenderCompID"),
                       defaults.getString("TargetCompID"));
    settings.set(sid, FIX::Dictionary());
    FIX::FileStoreFactory store(settings);  // persists seqs and messages: RT-style resend survives reconnects
    StdoutLogFactory logs;
    std::unique_ptr<FIX::Acceptor> acceptor;
    if (defaults.getBool("SSL"))
      acceptor.reset(new FIX::SSLSocketAcceptor(app, store, settings, logs));
    else
      acceptor.reset(new FIX::SocketAcceptor(app, store, settings, logs));

    acceptor->poll(0.0);  // first poll binds the port
    FIX::Session* session = acceptor->getSession(sid);
    out("ready", defaults.getString("SocketAcceptPort"));
    std::thread(readStdin).detach();

    bool quitting = false;
    std::chrono::steady_clock::time_point quitDeadline;
    for (;;) {
      acceptor->poll(0.02);
      // `logout` disables the session (that is how QuickFIX sends a Logout); re-enable it once the
      // connection is gone so the client can log on again.
      if (!quitting && !session->isEnabled() && !session->isLoggedOn()) session->logon();
      if (quitting) {
        if (!session->isLoggedOn() || std::chrono::steady_clock::now() > quitDeadline) break;
        continue;
      }
      std::string line;
      while (nextCommand(line)) {
        size_t sp = line.find(' ');
        std::string cmd = line.substr(0, sp);
        std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
        try {
          if (cmd == "exec") {
            if (!session->isLoggedOn()) throw std::runtime_error("not logged on");
            session->send(*executionReport(rest));
          } else if (cmd == "execsilent") {
            // Exactly what Session::sendRaw persists for an app message (header filled, stored
            // under the next seq, seq incremented), minus the socket write: a real message the
            // client never saw, which QuickFIX replays with 43=Y/122 on ResendRequest. The store
            // is only exposed const; mutating it here is safe because this is QuickFIX's thread.
            std::unique_ptr<FIX::Message> m = executionReport(rest);
            FIX::Header& h = m->getHeader();
            h.setField(FIX::BeginString(sid.getBeginString()));
            h.setField(FIX::SenderCompID(sid.getSenderCompID()));
            h.setField(FIX::TargetCompID(sid.getTargetCompID()));
            int seq = session->getExpectedSenderNum();
            h.setField(FIX::MsgSeqNum(seq));
            h.setField(FIX::SendingTime(FIX::UtcTimeStamp(), 3));
            std::string s = raw(*m);
            FIX::MessageStore* ms = const_cast<FIX::MessageStore*>(session->getStore());
            ms->set(seq, s);
            ms->incrNextSenderMsgSeqNum();
            out("stored", s);
          } else if (cmd == "jump") {
            int n = std::stoi(rest);
            if (n <= 0) throw std::runtime_error("jump needs n > 0");
            session->setNextSenderMsgSeqNum(session->getExpectedSenderNum() + n);
          } else if (cmd == "testreq") {
            if (rest.empty()) throw std::runtime_error("testreq needs an id");
            FIX::Message m;
            m.getHeader().setField(FIX::MsgType("1"));
            m.setField(FIX::TestReqID(rest));
            session->send(m);
          } else if (cmd == "logout") {
            if (!session->isLoggedOn()) throw std::runtime_error("not logged on");
            session->logout(rest);  // Logout goes out on the next timer tick (<= ~1 s)
          } else if (cmd == "drop") {
            session->disconnect();
          } else if (cmd == "quit") {
            quitting = true;
            quitDeadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
            if (session->isLoggedOn()) session->logout("exchange shutting down");
            break;
          } else {
            throw std::runtime_error("unknown command '" + cmd + "'");
          }
          out("ok", cmd);
        } catch (std::exception& e) {
          out("error", cmd + ": " + e.what());
        }
      }
    }
    acceptor->stop(true);
  } catch (std::exception& e) {
    out("error", e.what());
    return 1;
  }
  out("bye");
  std::_Exit(0);  // the stdin reader thread is blocked in getline; do not wait for it
}
