#include "protocols/http/status.h"

namespace reactor::http {

std::string_view reason_phrase(Status status) {
  switch (status) {
    case Status::kOk:
      return "OK";
    case Status::kNoContent:
      return "No Content";
    case Status::kPartialContent:
      return "Partial Content";
    case Status::kMovedPermanently:
      return "Moved Permanently";
    case Status::kNotModified:
      return "Not Modified";
    case Status::kBadRequest:
      return "Bad Request";
    case Status::kUnauthorized:
      return "Unauthorized";
    case Status::kForbidden:
      return "Forbidden";
    case Status::kNotFound:
      return "Not Found";
    case Status::kMethodNotAllowed:
      return "Method Not Allowed";
    case Status::kNotAcceptable:
      return "Not Acceptable";
    case Status::kRequestTimeout:
      return "Request Timeout";
    case Status::kPreconditionFailed:
      return "Precondition Failed";
    case Status::kContentTooLarge:
      return "Content Too Large";
    case Status::kUriTooLong:
      return "URI Too Long";
    case Status::kRangeNotSatisfiable:
      return "Range Not Satisfiable";
    case Status::kHeaderFieldsTooLarge:
      return "Request Header Fields Too Large";
    case Status::kInternalServerError:
      return "Internal Server Error";
    case Status::kNotImplemented:
      return "Not Implemented";
    case Status::kServiceUnavailable:
      return "Service Unavailable";
    case Status::kVersionNotSupported:
      return "HTTP Version Not Supported";
  }
  return "Unknown";
}

std::string_view status_line(Status status) {
  switch (status) {
    case Status::kOk:
      return "HTTP/1.1 200 OK\r\n";
    case Status::kNoContent:
      return "HTTP/1.1 204 No Content\r\n";
    case Status::kPartialContent:
      return "HTTP/1.1 206 Partial Content\r\n";
    case Status::kMovedPermanently:
      return "HTTP/1.1 301 Moved Permanently\r\n";
    case Status::kNotModified:
      return "HTTP/1.1 304 Not Modified\r\n";
    case Status::kBadRequest:
      return "HTTP/1.1 400 Bad Request\r\n";
    case Status::kUnauthorized:
      return "HTTP/1.1 401 Unauthorized\r\n";
    case Status::kForbidden:
      return "HTTP/1.1 403 Forbidden\r\n";
    case Status::kNotFound:
      return "HTTP/1.1 404 Not Found\r\n";
    case Status::kMethodNotAllowed:
      return "HTTP/1.1 405 Method Not Allowed\r\n";
    case Status::kNotAcceptable:
      return "HTTP/1.1 406 Not Acceptable\r\n";
    case Status::kRequestTimeout:
      return "HTTP/1.1 408 Request Timeout\r\n";
    case Status::kPreconditionFailed:
      return "HTTP/1.1 412 Precondition Failed\r\n";
    case Status::kContentTooLarge:
      return "HTTP/1.1 413 Content Too Large\r\n";
    case Status::kUriTooLong:
      return "HTTP/1.1 414 URI Too Long\r\n";
    case Status::kRangeNotSatisfiable:
      return "HTTP/1.1 416 Range Not Satisfiable\r\n";
    case Status::kHeaderFieldsTooLarge:
      return "HTTP/1.1 431 Request Header Fields Too Large\r\n";
    case Status::kInternalServerError:
      return "HTTP/1.1 500 Internal Server Error\r\n";
    case Status::kNotImplemented:
      return "HTTP/1.1 501 Not Implemented\r\n";
    case Status::kServiceUnavailable:
      return "HTTP/1.1 503 Service Unavailable\r\n";
    case Status::kVersionNotSupported:
      return "HTTP/1.1 505 HTTP Version Not Supported\r\n";
  }
  return "HTTP/1.1 500 Internal Server Error\r\n";
}

bool status_closes_connection(Status status) {
  switch (status) {
    case Status::kBadRequest:
    case Status::kRequestTimeout:
    case Status::kUriTooLong:
    case Status::kHeaderFieldsTooLarge:
    case Status::kInternalServerError:
    case Status::kNotImplemented:
    case Status::kServiceUnavailable:
    case Status::kVersionNotSupported:
      return true;
    default:
      return false;
  }
}

}  // namespace reactor::http
