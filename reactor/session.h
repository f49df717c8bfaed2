// Sessions: the one way a protocol attaches its per-connection state (the
// parser, the request in progress...) to a Connection.
//
// The session is stored in the connection's context() as a
// shared_ptr<Session>. Every callback receives the ConnectionPtr and looks
// the session up with session_of<Session>(): a plain pointer, valid for the
// rest of that callback, so the session itself never stores its
// connection. Work that completes later (a thread-pool job, a timer) holds
// a weak_ptr<Connection> and looks the session up again when it runs: once
// the connection has closed and its disconnect callback has run, context()
// is cleared and session_of() returns null.
//
// Threading: loop thread only, like the Connection.
#pragma once

#include <any>
#include <memory>

#include "reactor/connection.h"

namespace reactor {

template <typename Session>
void attach_session(const ConnectionPtr& connection, std::shared_ptr<Session> session) {
  connection->context() = std::move(session);
}

// The session attached to `connection`, or null (none attached, another
// type attached, or the connection closed and was cleaned up).
template <typename Session>
Session* session_of(const ConnectionPtr& connection) {
  auto* held = std::any_cast<std::shared_ptr<Session>>(&connection->context());
  return held != nullptr ? held->get() : nullptr;
}

}  // namespace reactor
