// Integration test: headless Chromium loads the demo site (examples/site)
// through reactor-httpd. The DOM dump shows the page's script ran, its
// stylesheet applied and its images decoded; the access log shows every
// subresource was answered 200.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <regex>
#include <string>

#include "httpd_fixture.h"
#include "temp_tree.h"

using namespace http_test;

namespace {

std::string demo_site() {
  const char* site = std::getenv("HTTPD_DEMO_SITE");
  REQUIRE_MESSAGE(site != nullptr, "HTTPD_DEMO_SITE is not set (meson sets it)");
  return site;
}

// Runs Debian's chromium headless on `url` and returns the DOM it built.
std::string dump_dom(const std::string& url, const TempTree& scratch) {
  const std::string profile = scratch / "chromium-profile";
  const test_support::CommandResult result = test_support::run_command(
      {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
       "--no-first-run", "--disable-background-networking", "--disable-component-update",
       "--disable-sync", "--disable-dev-shm-usage", "--log-level=3", "--user-data-dir=" + profile,
       "--dump-dom", url},
      std::chrono::seconds(90));
  CHECK(result.status == 0);
  return result.out;
}

// path -> status for every request line in a Combined Log Format file.
std::multimap<std::string, int> requests_in_log(const std::string& log) {
  std::multimap<std::string, int> requests;
  static const std::regex kLine(R"re("GET ([^ ]+) HTTP/1\.[01]" (\d{3}) )re");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kLine); it != std::sregex_iterator();
       ++it) {
    requests.emplace((*it)[1].str(), std::stoi((*it)[2].str()));
  }
  return requests;
}

}  // namespace

TEST_CASE("browser: chromium renders the demo site with every subresource") {
  TempTree scratch;
  const std::string log_path = scratch / "access.log";
  Httpd server(demo_site(), {"--access-log", log_path});

  const std::string dom = dump_dom(server.url("/"), scratch);
  CHECK(dom.find("<title>reactor-httpd demo site</title>") != std::string::npos);
  CHECK(dom.find("data-script=\"ran\"") != std::string::npos);
  CHECK(dom.find("data-css=\"applied\"") != std::string::npos);
  CHECK(dom.find("data-images=\"loaded\"") != std::string::npos);
  CHECK(dom.find("images: 2 of 2 loaded") != std::string::npos);

  CHECK(server.stop() == 0);  // flushes the access log
  const std::multimap<std::string, int> requests = requests_in_log(read_file(log_path));
  for (const char* path :
       {"/", "/css/style.css", "/js/app.js", "/images/logo.svg", "/images/gradient.png"}) {
    CAPTURE(path);
    const auto [begin, end] = requests.equal_range(path);
    REQUIRE(begin != end);
    for (auto it = begin; it != end; ++it) CHECK(it->second == 200);
  }
  for (const auto& request : requests) {
    CAPTURE(request.first);
    CHECK(request.second < 400);  // nothing the page references is missing
  }
}

TEST_CASE("browser: chromium shows the directory listing with working links") {
  TempTree scratch;
  Httpd server(demo_site());
  const std::string dom = dump_dom(server.url("/files/"), scratch);
  CHECK(dom.find("Index of /files/") != std::string::npos);
  CHECK(dom.find("href=\"caf%C3%A9.txt\"") != std::string::npos);
  CHECK(dom.find("href=\"notes%20with%20spaces.txt\"") != std::string::npos);
  CHECK(dom.find("href=\"subdir/\"") != std::string::npos);
  // And a link from it, followed by the browser, arrives.
  const std::string file = dump_dom(server.url("/files/caf%C3%A9.txt"), scratch);
  CHECK(file.find("Un nom de fichier en UTF-8.") != std::string::npos);
}
